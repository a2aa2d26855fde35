# The annex's messages (en).
