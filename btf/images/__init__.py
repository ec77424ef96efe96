"""Image files to network inputs, for the digit service: the header-only cost budget (imageheader,
standard library only), bounded decoding with EXIF orientation (imagefile, exif), and the
MNIST-style preprocessing of one digit (vision). Needs OpenCV; the NN core never imports it.
"""
