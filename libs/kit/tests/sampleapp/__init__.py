"""A minimal service used to prove the kit: counts signals, answers each with a decision."""
