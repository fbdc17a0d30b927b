"""What every stage shares: the project's error type, time parsing, AWS clients, atomic files and
``${name}`` templates. Nothing here imports a stage."""
