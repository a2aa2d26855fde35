# The report's messages (es).
