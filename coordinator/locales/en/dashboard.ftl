# The dashboard's messages (en).
