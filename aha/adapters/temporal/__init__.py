"""Temporal behind the ports: the connection, the case gateway the service uses, the
enrolment schedule, and the callbacks that tell a case how its calls went."""
