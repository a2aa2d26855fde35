# The annex's messages (es).
