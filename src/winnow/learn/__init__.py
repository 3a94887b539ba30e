"""Learning from outcomes: models that predict conversion, and the evidence for them."""
