"""Intake: the single point where every signal enters Baton and incidents are kept."""
