"""aha: Account Health Assurance cases as durable Temporal workflows."""
