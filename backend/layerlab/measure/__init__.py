"""Measuring a server: `bench` (training speed, stacked against one by one) with `capacity` (how
many learners that holds) and `sweep_speed` (a sweep stacked against one run after another), and
`loadtest` (simulated learners against a running server: each a `learner`, or a class in a
teacher's room with `room_load`) with `loadreport` (what they met)."""
