# The annex's messages (fr).
