#!/bin/sh
# Fetches the extra colorization training photos (train/README.md, Data:
# "Extra photos") from Debian bookworm packages into train/extra/, named
# <package>_<file>. Only these files are kept; the .debs are discarded.
# Needs apt-get (run `apt-get update` once) and dpkg-deb.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT="$HERE/extra"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$OUT"

# package=version, then the paths inside it (relative to the package's root)
fetch() {
	pkg=$1; shift
	name=${pkg%%=*}
	(cd "$TMP" && apt-get download -q "$pkg" >/dev/null 2>&1) || { echo "apt-get download $pkg failed" >&2; exit 1; }
	deb=$(ls "$TMP"/"${name}"_*.deb)
	mkdir -p "$TMP/x"
	for f in "$@"; do
		dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$TMP/x" "./$f"
		cp "$TMP/x/$f" "$OUT/${name}_$(basename "$f")"
	done
	rm -f "$deb"
}

SK=usr/lib/python3/dist-packages/skimage/data
fetch python3-skimage=0.19.3-8 \
	$SK/astronaut.png $SK/chelsea.png $SK/coffee.png $SK/motorcycle_left.png $SK/rocket.jpg
fetch python3-sklearn=1.2.1+dfsg-1 \
	usr/lib/python3/dist-packages/sklearn/datasets/images/china.jpg \
	usr/lib/python3/dist-packages/sklearn/datasets/images/flower.jpg
fetch python-matplotlib-data=3.6.3-1 \
	usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg
CV=usr/share/doc/opencv-doc/examples
fetch opencv-doc=4.6.0+dfsg-12 \
	$CV/alphamat/input_images/plant.jpg \
	$CV/data/aero1.jpg $CV/data/aloeL.jpg $CV/data/apple.jpg $CV/data/board.jpg \
	$CV/data/building.jpg $CV/data/chicky_512.png $CV/data/ela_original.jpg \
	$CV/data/fruits.jpg $CV/data/leuvenA.jpg $CV/data/orange.jpg $CV/data/rubberwhale1.png \
	$CV/data/squirrel_cls.jpg $CV/hfs/data/000.jpg $CV/reg/home.png \
	$CV/text/scenetext01.jpg $CV/text/scenetext02.jpg $CV/text/scenetext03.jpg \
	$CV/text/scenetext04.jpg $CV/text/scenetext05.jpg $CV/text/scenetext06.jpg
ls "$OUT" | wc -l | xargs echo "photos in $OUT:"
