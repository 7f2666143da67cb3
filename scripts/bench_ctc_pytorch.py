#!/usr/bin/env python3
"""Training throughput of the default char-ctc model in PyTorch, the peer of
`crossover bench ctc` (src/cli/bench.rs): same architecture, batch, loss,
optimizer and thread count, so the two numbers can be compared as a ratio.

Model (src/neural/model.rs defaults): two 3x3 convolutions with ReLU (stride 2
each: x4 time subsampling, 80 -> 19 mel bins), linear 32*19 -> 256, dropout
0.1, three separate bidirectional GRU-256 layers with dropout between them,
linear 512 -> 29, log-softmax; CTC loss (mean, zero_infinity); global
gradient-norm clipping at 5; AdamW (betas 0.9/0.98, weight decay 0.01).
Inputs: a fixed random batch of B utterances x T frames x 80, targets of
0.15 * T tokens (about 15 characters per second of audio).

Run (after scripts/setup.sh made the venv):
  ~/.cache/crossover/torch-venv/bin/python scripts/bench_ctc_pytorch.py --threads 2
Prints one JSON line: median seconds per step and audio seconds per second.
"""
import argparse
import json
import statistics
import time

import torch
import torch.nn as nn


class CtcNet(nn.Module):
    def __init__(self, mel=80, channels=32, hidden=256, layers=3, vocab=29, dropout=0.1, encoder="gru"):
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, stride=2)
        self.conv2 = nn.Conv2d(channels, channels, 3, stride=2)
        f = ((mel - 3) // 2 + 1 - 3) // 2 + 1
        self.proj = nn.Linear(channels * f, hidden)
        rnn = nn.GRU if encoder == "gru" else nn.LSTM
        self.rnns = nn.ModuleList(
            [rnn(hidden if i == 0 else 2 * hidden, hidden, batch_first=True, bidirectional=True) for i in range(layers)]
        )
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(2 * hidden, vocab)

    def forward(self, x):
        x = torch.relu(self.conv2(torch.relu(self.conv1(x.unsqueeze(1)))))
        b, c, t, f = x.shape
        x = self.drop(self.proj(x.permute(0, 2, 1, 3).reshape(b, t, c * f)))
        for i, rnn in enumerate(self.rnns):
            if i > 0:
                x = self.drop(x)
            x = rnn(x)[0]
        return self.out(x).log_softmax(-1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--layers", type=int, default=3)
    ap.add_argument("--encoder", choices=["gru", "lstm"], default="gru")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = CtcNet(hidden=a.hidden, layers=a.layers, encoder=a.encoder)
    net.train()
    params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4, betas=(0.9, 0.98), weight_decay=0.01)
    xs = torch.randn(a.batch, a.frames, 80)
    t_out = ((a.frames - 3) // 2 + 1 - 3) // 2 + 1
    n_tgt = int(0.15 * a.frames)
    targets = torch.randint(1, 29, (a.batch * n_tgt,), dtype=torch.long)
    in_lens = [t_out] * a.batch
    tgt_lens = [n_tgt] * a.batch
    times = []
    phases = [[], [], []]  # forward (network + CTC loss), backward, optimizer (clip + AdamW)
    for step in range(a.warmup + a.steps):
        t0 = time.perf_counter()
        opt.zero_grad()
        lp = net(xs)
        loss = nn.functional.ctc_loss(lp.transpose(0, 1), targets, in_lens, tgt_lens, blank=0, reduction="mean", zero_infinity=True)
        t1 = time.perf_counter()
        loss.backward()
        t2 = time.perf_counter()
        nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        opt.step()
        loss.item()
        if step >= a.warmup:
            t3 = time.perf_counter()
            times.append(t3 - t0)
            for ph, t in zip(phases, (t1 - t0, t2 - t1, t3 - t2)):
                ph.append(t)
    med = statistics.median(times)
    audio = a.batch * a.frames / 100.0
    print(json.dumps({
        "impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "batch": a.batch, "frames": a.frames,
        "encoder": a.encoder, "hidden": a.hidden, "layers": a.layers, "parameters": params, "steps": a.steps,
        "median_step_s": round(med, 4), "audio_s_per_s": round(audio / med, 1),
        "median_forward_s": round(statistics.median(phases[0]), 4),
        "median_backward_s": round(statistics.median(phases[1]), 4),
        "median_optimizer_s": round(statistics.median(phases[2]), 4),
        "step_times": [round(t, 4) for t in times],
    }))


if __name__ == "__main__":
    main()
