# The dashboard's messages (es).
