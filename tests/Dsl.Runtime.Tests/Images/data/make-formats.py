#!/usr/bin/python3
"""Makes the reference files of the formats beyond make.sh's, with Pillow (python3-pil; an encoder and decoder
independent of Skia's), and beside each NAME.rgba: the pixels Pillow decodes from it, 8-bit RGBA, rows top to bottom.
Run in this folder: /usr/bin/python3 make-formats.py. The results are committed; the tests never run this."""
import io
from PIL import Image, ImageOps

def rgba(name, image):
    open(name + ".rgba", "wb").write(image.convert("RGBA").tobytes())

def upright():
    # 8x8 blocks of flat colour, all different: JPEG keeps them nearly exact, and any turn or mirror shows.
    im = Image.new("RGB", (24, 16))
    for by in range(2):
        for bx in range(3):
            colour = (40 + 90 * bx, 60 + 150 * by, 200 - 60 * bx - 70 * by)
            im.paste(colour, (8 * bx, 8 * by, 8 * bx + 8, 8 * by + 8))
    return im

base = upright()
rgba("interlaced", Image.open("interlaced.png"))

base.save("progressive.jpg", quality=95, subsampling=0, progressive=True)
rgba("progressive", Image.open("progressive.jpg"))

# Adobe's CMYK JPEG, as print workflows write them: Pillow stores the inks inverted with an APP14 marker.
base.convert("CMYK").save("cmyk.jpg", quality=95)
rgba("cmyk", Image.open("cmyk.jpg"))

# The same upright picture stored the way a camera with each EXIF orientation stores it.
stored_for = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270,
}
rgba("upright", base)
for orientation in range(1, 9):
    stored = base if orientation == 1 else base.transpose(stored_for[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    name = f"orientation{orientation}.jpg"
    stored.save(name, quality=95, subsampling=0, exif=exif)
    # Pillow's own reading, turned upright by Pillow, must be the upright picture: the files say what they mean.
    back = ImageOps.exif_transpose(Image.open(name)).convert("RGB")
    assert back.size == base.size and max(abs(a - b) for p, q in zip(back.getdata(), base.getdata()) for a, b in zip(p, q)) < 12, name

base.save("lossless.webp", lossless=True)
rgba("lossless", Image.open("lossless.webp"))
alpha = base.convert("RGBA")
alpha.putalpha(Image.linear_gradient("L").resize(base.size))
alpha.save("alpha.webp", lossless=True)
rgba("alpha", Image.open("alpha.webp"))
base.save("lossy.webp", quality=90)
rgba("lossy", Image.open("lossy.webp"))

# A two-frame GIF: the loader takes the first.
second = base.transpose(Image.Transpose.ROTATE_180)
base.quantize(16).save("frames.gif", save_all=True, append_images=[second.quantize(16)], duration=100, loop=0)
rgba("frames", Image.open("frames.gif"))

base.save("rgb24.bmp")
rgba("rgb24", Image.open("rgb24.bmp"))
base.quantize(8).save("palette8.bmp")
rgba("palette8-bmp", Image.open("palette8.bmp"))
