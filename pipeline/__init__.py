"""The log-analytics workbench: settings, local stack, pipeline steps and analysis helpers."""
