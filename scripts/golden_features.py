#!/usr/bin/env python3
"""Reference MFCC and fbank features from kaldi-native-fbank (PyPI), for
tests/features_golden.rs.

Input: a folder of raw little-endian float32 sample files (<key>.f32, 16 kHz,
16-bit integer scale), as written by `crossover features --dump-samples DIR`,
so kaldi-native-fbank sees exactly the samples crossover's decoder and
resampler produce. Output: Kaldi text archives mfcc.ark (23 mel bins, 13
cepstra, energy, lifter 22), mfcc_deltas.ark
(the same with Kaldi add-deltas, order 2, window 2), mfcc_hf3800.ark
(MFCC with --high-freq=3800) and fbank.ark (80 bins), dither 0, snip_edges,
all other options Kaldi's defaults. See tests/golden/features/README.md.
"""
import argparse
import pathlib
import sys

import numpy as np
import kaldi_native_fbank as knf


def fmt(x: float) -> str:
    # C++ ostream with precision 7, as Kaldi's copy-feats writes text archives.
    s = "%.7g" % x
    return "0" if s == "-0" else s


def write_ark(f, key, mat):
    f.write(f"{key}  [")
    for row in mat:
        f.write("\n  " + "".join(fmt(float(v)) + " " for v in row))
    f.write("]\n")


def compute(comp, samples):
    comp.accept_waveform(16000, samples.tolist())
    comp.input_finished()
    return np.array([comp.get_frame(i) for i in range(comp.num_frames_ready)], dtype=np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("samples", type=pathlib.Path, help="folder of <key>.f32 files")
    ap.add_argument("out", type=pathlib.Path, help="folder for mfcc.ark and fbank.ark")
    a = ap.parse_args()
    files = sorted(a.samples.glob("*.f32"))
    if not files:
        sys.exit(f"no .f32 files in {a.samples}")
    a.out.mkdir(parents=True, exist_ok=True)

    mo = knf.MfccOptions()
    mo.frame_opts.dither = 0.0
    mo.frame_opts.snip_edges = True
    mo.mel_opts.num_bins = 23
    mo.num_ceps = 13
    mo.use_energy = True

    fo = knf.FbankOptions()
    fo.frame_opts.dither = 0.0
    fo.frame_opts.snip_edges = True
    fo.mel_opts.num_bins = 80
    fo.use_energy = False

    # Band-limited MFCC (mel bins 20..3800 Hz): all bins lie where 8-kHz
    # recordings have energy, so it can be checked strictly on FSDD too.
    mn = knf.MfccOptions()
    mn.frame_opts.dither = 0.0
    mn.frame_opts.snip_edges = True
    mn.mel_opts.num_bins = 23
    mn.mel_opts.high_freq = 3800
    mn.num_ceps = 13

    do = knf.DeltaOptions()  # Kaldi add-deltas defaults: order 2, window 2
    assert (do.order, do.window) == (2, 2), do

    with open(a.out / "mfcc.ark", "w") as fm, open(a.out / "mfcc_deltas.ark", "w") as fd, \
            open(a.out / "fbank.ark", "w") as ff, open(a.out / "mfcc_hf3800.ark", "w") as fn:
        for p in files:
            x = np.fromfile(p, dtype="<f4")
            mfcc = compute(knf.OnlineMfcc(mo), x)
            write_ark(fm, p.stem, mfcc)
            write_ark(fd, p.stem, knf.compute_deltas(do, mfcc))
            write_ark(ff, p.stem, compute(knf.OnlineFbank(fo), x))
            write_ark(fn, p.stem, compute(knf.OnlineMfcc(mn), x))
            print(f"{p.stem}: {len(x)} samples", file=sys.stderr)


if __name__ == "__main__":
    main()
