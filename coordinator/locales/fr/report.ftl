# The report's messages (fr).
