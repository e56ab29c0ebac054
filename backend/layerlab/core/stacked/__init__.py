"""The stacked engine: many runs trained as one. `trainer_stack` steps K Trainers together,
`model` holds their padded weights and the explicit forward and backward passes, `optimizer`
their SGD, momentum and Adam, `batch_order` each run's own order of minibatches."""
