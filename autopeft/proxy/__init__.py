"""The kernel: what trains and scores one configuration cheaply, from plain typed values (it never
imports the spec): the budget, the training loop, one trial (build, train, measure), cost
measurements, devices and importance scores."""
