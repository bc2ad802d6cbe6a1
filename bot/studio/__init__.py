"""The editors' studio: a local page to see, test and print the content of one folder.

`flowmap` draws a flow as SVG, `poster` makes the printable poster with its QR code, and
`app` serves them on 127.0.0.1 for one content folder.
"""
