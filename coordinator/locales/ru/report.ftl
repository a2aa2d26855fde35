# The report's messages (ru).
