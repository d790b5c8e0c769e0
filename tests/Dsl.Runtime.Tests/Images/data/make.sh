#!/usr/bin/env bash
# Makes the reference images the decoder tests read, with ImageMagick 6 and OptiPNG (encoders independent of ours:
# apt-get install imagemagick optipng), and beside each the pixels ImageMagick itself decodes from it: NAME.rgba,
# 8-bit RGBA, rows top to bottom.
# ImageMagick picks PNG row filters itself; OptiPNG's -f F forces filter F on every row.
# Run in this folder: ./make.sh. The results are committed; the tests never run this.
set -euo pipefail
src() { convert -size 13x9 -seed 7 plasma:red-blue -blur 0x0.5 "$@"; }
src -define png:color-type=2 -define png:bit-depth=8 rgb8.png
for f in 0 1 2 3 4; do optipng -quiet -force -nx -f$f -out rgb8-filter$f.png rgb8.png; done
src -colorspace Gray -define png:color-type=0 -define png:bit-depth=8 grey8.png
src -colorspace Gray -define png:color-type=0 -define png:bit-depth=16 grey16.png
for d in 1 2 4; do src -colorspace Gray -auto-level -posterize $((1 << d)) -define png:color-type=0 -define png:bit-depth=$d grey$d.png; done
src -define png:color-type=2 -define png:bit-depth=16 rgb16.png
# Alpha: a horizontal ramp from opaque to clear.
alpha() { src \( -size 13x9 gradient:white-black -rotate 90 -resize 13x9\! \) -alpha off -compose CopyOpacity -composite "$@"; }
alpha -define png:color-type=6 -define png:bit-depth=8 rgba8.png
alpha -define png:color-type=6 -define png:bit-depth=16 rgba16.png
alpha -colorspace Gray -define png:color-type=4 -define png:bit-depth=8 greyalpha8.png
alpha -colorspace Gray -define png:color-type=4 -define png:bit-depth=16 greyalpha16.png
src -posterize 3 PNG8:palette8.png
src -colorspace Gray -auto-level -posterize 3 -type Palette -define png:bit-depth=2 -define png:color-type=3 palette2.png
alpha -posterize 2 PNG8:palette-alpha.png
optipng -quiet -force -nx -f4 -out grey4-paeth.png grey4.png
optipng -quiet -force -nx -f3 -out palette8-average.png palette8.png
src -interlace PNG interlaced.png
for f in *.png; do [ "$f" = interlaced.png ] || convert "$f" -depth 8 "rgba:${f%.png}.rgba"; done
# JPEGs: colour and grey, with the pixels ImageMagick decodes (libjpeg) for comparison.
convert -size 40x24 -seed 3 plasma:green-yellow -blur 0x2 -quality 92 colour.jpg
convert colour.jpg -colorspace Gray -quality 92 grey.jpg
for f in *.jpg; do convert "$f" -depth 8 "rgba:${f%.jpg}.rgba"; done
