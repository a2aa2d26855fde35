# The report's messages (en).
