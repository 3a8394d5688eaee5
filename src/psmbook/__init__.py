"""psmbook: a re-executable reproduction of a propensity-score-matched clinical study."""
