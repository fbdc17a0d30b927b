-- Whether the log's `timestamp` ends with an offset (+05:30, -08:00): always its last six characters.
SUBSTR(`timestamp`, CHAR_LENGTH(`timestamp`) - 5, 1) IN ('+', '-')
