"""Measuring a server: `bench` (training speed, stacked against one by one) with `capacity` (how
many learners that holds), and `loadtest` (simulated learners against a running server) with
`loadreport` (what they met)."""
