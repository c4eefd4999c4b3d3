# A student's cell: take all the machine's memory (3 GiB at once, then a growing list).
hog = bytearray(3 * 1024**3)
more = []
while True:
    more.append(bytearray(100 * 1024**2))
