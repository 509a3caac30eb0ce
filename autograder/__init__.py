"""Instructor tools of Manual Neural Networks: the student copy of nnlib, and grading."""
