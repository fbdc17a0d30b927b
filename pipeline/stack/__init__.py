"""The local stack: real servers standing in for each cloud service, managed as one unit."""
