#!/usr/bin/env python3
"""Print torchvision ImageFolder's classes and samples for a directory as TSV.

Output (stdout), the same format tests/oracles/walk_dump prints for pvpack's walk:

    #class<TAB><label><TAB><class name>      one line per class, label order
    <relative path><TAB><label>               one line per sample, dataset order

Relative paths are relative to the root, '/'-separated, and start with the
class folder. Names are written as their raw bytes (os.fsencode), so names
that are not valid UTF-8 survive the round trip.

When torchvision is importable its own find_classes/make_dataset are used;
otherwise an exact re-implementation of them (same os.scandir, os.walk with
followlinks=True, sorted(), IMG_EXTENSIONS and lower().endswith test). Which
one ran is said on stderr, so the two outputs stay diffable:

    python3 tests/oracles/walk_compare.py DIR > tv.tsv
    build/tests/oracles/walk_dump DIR > pv.tsv
    diff tv.tsv pv.tsv

Known, intended differences with pvpack: pvpack does not re-enter a symlink
loop (os.walk follows it until paths grow too long), and pvpack skips, with a
warning, image-named entries that are broken symlinks or not regular files.
Empty classes are kept by both (allow_empty=True is passed when supported).
"""
import os
import sys

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def find_classes_reimpl(directory):
    # torchvision.datasets.folder.find_classes
    classes = sorted(entry.name for entry in os.scandir(directory) if entry.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    class_to_idx = {cls_name: i for i, cls_name in enumerate(classes)}
    return classes, class_to_idx


def make_dataset_reimpl(directory, class_to_idx):
    # torchvision.datasets.folder.make_dataset with extensions=IMG_EXTENSIONS,
    # is_valid_file=None, allow_empty=True.
    directory = os.path.expanduser(directory)

    def is_valid_file(x):
        return x.lower().endswith(IMG_EXTENSIONS)

    instances = []
    for target_class in sorted(class_to_idx.keys()):
        class_index = class_to_idx[target_class]
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_index))
    return instances


def main(argv):
    if len(argv) != 2:
        print("usage: walk_compare.py DIR", file=sys.stderr)
        return 2
    directory = argv[1]
    try:
        from torchvision.datasets.folder import find_classes, make_dataset, IMG_EXTENSIONS as EXT

        classes, class_to_idx = find_classes(directory)
        try:
            samples = make_dataset(directory, class_to_idx, extensions=EXT, allow_empty=True)
        except TypeError:  # torchvision < 0.17 has no allow_empty
            samples = make_dataset(directory, class_to_idx, extensions=EXT)
        import torchvision

        source = f"torchvision {torchvision.__version__}"
    except ImportError:
        classes, class_to_idx = find_classes_reimpl(directory)
        samples = make_dataset_reimpl(directory, class_to_idx)
        source = "re-implementation of torchvision's find_classes/make_dataset (torchvision not importable)"
    print(f"walk_compare: {source}: {len(classes)} classes, {len(samples)} samples", file=sys.stderr)

    prefix = os.path.join(directory, "")
    out = sys.stdout.buffer
    for i, c in enumerate(classes):
        out.write(b"#class\t%d\t%s\n" % (i, os.fsencode(c)))
    for path, label in samples:
        assert path.startswith(prefix), path
        out.write(b"%s\t%d\n" % (os.fsencode(path[len(prefix):]), label))
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
