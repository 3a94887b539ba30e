"""Analytics: the funnel, velocity, channels, trials and how well scores predict."""
