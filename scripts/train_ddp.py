"""Trains AlexNet with PyTorch DistributedDataParallel, for training that has
outgrown one workstation; the result comes back to this project as a
safetensors file for `host import --state-dict`.

Needs torch, numpy, pillow and safetensors (not torchvision). Every process
runs this same script; torchrun starts them and sets RANK / LOCAL_RANK /
WORLD_SIZE. Without torchrun it runs as one process.

Single node, 8 GPUs:

    torchrun --nproc_per_node=8 scripts/train_ddp.py --arch paper \\
        --data /imagenet --out alexnet.safetensors

Several nodes (run on each node, node_rank 0..nnodes-1; --batch is per
process, so the global batch is nnodes * nproc_per_node * batch):

    torchrun --nnodes=4 --nproc_per_node=8 --node_rank=$NODE_RANK \\
        --master_addr=node0.cluster --master_port=29500 \\
        scripts/train_ddp.py --arch paper --data /imagenet --out alexnet.safetensors

CPU check (gloo backend, two processes, a few steps):

    OMP_NUM_THREADS=1 torchrun --nproc_per_node=2 scripts/train_ddp.py \\
        --arch paper --width 0.25 --input 227 --data /path/to/photos \\
        --max-steps 4 --batch 8 --out /tmp/x.safetensors

Architectures (at --width 1, 1000 classes):

    paper        Krizhevsky et al. 2012, one tower: 3x227x227, conv1 96@11/4,
                 LRN, pool, conv2 256@5 g2, LRN, pool, conv3 384@3, conv4 384@3
                 g2, conv5 256@3 g2, pool, fc6 4096, fc7 4096, fc8.
                 60,965,224 parameters. Saved as conv1..conv5, fc6..fc8
                 (.weight OIHW / [out, in], .bias), the project's names.
    torchvision  torchvision.models.alexnet: 3x224x224, 64-192-384-256-256,
                 adaptive 6x6 average pool, FC 4096-4096. 61,100,840
                 parameters. Saved under torchvision's names
                 (features.0.weight ... classifier.6.bias).

Data: --data DIR in ImageFolder layout, DIR/train/<class>/* and
DIR/val/<class>/*; or DIR/<class>/*, in which case every --holdout-th image of
each class (sorted by name) is held out for validation. Classes are the sorted
training folder names; FILE.labels.txt lists them in that order.

Preprocessing, in the project's terms: the shorter side is scaled to
ceil(input * 256 / 227) for paper (256 at 227, as host's preprocess.rs) or
ceil(input * 256 / 224) for torchvision (256 at 224); training takes a random
input x input crop and mirrors with probability 1/2, evaluation the centre
crop; then x[c] = (pixel - mean[c]) / std[c] with ImageNet's mean and std in
pixel units.

Recipe (the paper's, as the project's `--recipe paper`): SGD, momentum 0.9,
weight decay 5e-4, lr 0.01, batch 128 per process, cross-entropy, dropout 0.5
on fc6/fc7. The learning rate is divided by 10 when validation top-1 has not
improved for --patience epochs (--schedule plateau, the default), or every
--step-epochs epochs (--schedule step, also used when there is no validation
set). Paper arch init: weights N(0, 0.01), biases 1 in conv2, conv4, conv5,
fc6, fc7 and 0 elsewhere; torchvision arch keeps PyTorch's default init
(--init overrides either). A larger global batch may want a larger --lr.

Rank 0 rewrites --out (atomically) after every epoch and at the end, so an
interrupted run leaves the last finished epoch. --checkpoint PATH also saves
the optimizer and schedule there each epoch and resumes from it if present.
"""

import argparse
import datetime
import hashlib
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

MEAN = (123.675, 116.28, 103.53)  # ImageNet mean and std, in pixel units
STD = (58.395, 57.12, 57.375)
IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}


# ---------------------------------------------------------------- networks


def conv_width(n, width):
    # Even, so the two-group convolutions of the paper arch still divide.
    return max(2, round(n * width / 2) * 2)


def fc_width(n, width):
    return max(1, round(n * width))


def conv_out(size, kernel, stride, pad):
    return (size + 2 * pad - kernel) // stride + 1


class PaperAlexNet(nn.Module):
    """Krizhevsky et al. 2012 as one tower: the two GPUs' halves are the two
    groups of conv2/4/5, and conv3 and the FC layers see both halves. The
    submodule names are the saved tensor names."""

    def __init__(self, classes=1000, width=1.0, input_size=227, dropout=0.5):
        super().__init__()
        c1, c2, c3, c4, c5 = (conv_width(n, width) for n in (96, 256, 384, 384, 256))
        f6 = f7 = fc_width(4096, width)
        self.conv1 = nn.Conv2d(3, c1, 11, stride=4, padding=0)
        # The paper's alpha (1e-4) multiplies the plain sum of squares; PyTorch
        # divides alpha by the window size, so pass 5 * 1e-4.
        self.lrn1 = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
        self.pool1 = nn.MaxPool2d(3, 2)
        self.conv2 = nn.Conv2d(c1, c2, 5, padding=2, groups=2)
        self.lrn2 = nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
        self.pool2 = nn.MaxPool2d(3, 2)
        self.conv3 = nn.Conv2d(c2, c3, 3, padding=1)
        self.conv4 = nn.Conv2d(c3, c4, 3, padding=1, groups=2)
        self.conv5 = nn.Conv2d(c4, c5, 3, padding=1, groups=2)
        self.pool5 = nn.MaxPool2d(3, 2)
        s = conv_out(input_size, 11, 4, 0)
        s = conv_out(s, 3, 2, 0)  # pool1
        s = conv_out(s, 3, 2, 0)  # pool2 (conv2..5 keep the size)
        s = conv_out(s, 3, 2, 0)  # pool5
        if s < 1:
            raise ValueError(f"input {input_size} is too small for the paper arch")
        self.fc6 = nn.Linear(c5 * s * s, f6)
        self.fc7 = nn.Linear(f6, f7)
        self.fc8 = nn.Linear(f7, classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x):
        x = self.pool1(self.lrn1(F.relu(self.conv1(x))))
        x = self.pool2(self.lrn2(F.relu(self.conv2(x))))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x))
        x = self.pool5(F.relu(self.conv5(x)))
        x = torch.flatten(x, 1)
        x = self.dropout(F.relu(self.fc6(x)))
        x = self.dropout(F.relu(self.fc7(x)))
        return self.fc8(x)

    def paper_init(self):
        """N(0, 0.01) weights; biases 1 where the paper says (conv2, conv4,
        conv5, the hidden FC layers) to give the ReLUs positive input early."""
        for name, m in self.named_children():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 1.0 if name in ("conv2", "conv4", "conv5", "fc6", "fc7") else 0.0)


class TorchvisionAlexNet(nn.Module):
    """torchvision.models.AlexNet with scalable widths: the same module tree,
    so the same state_dict names."""

    def __init__(self, classes=1000, width=1.0, dropout=0.5, fc=None):
        super().__init__()
        c1, c2, c3, c4, c5 = (conv_width(n, width) for n in (64, 192, 384, 256, 256))
        f = fc if fc is not None else fc_width(4096, width)
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(c5 * 6 * 6, f),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(f, f),
            nn.ReLU(inplace=True),
            nn.Linear(f, classes),
        )

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(torch.flatten(x, 1))

    def paper_init(self):
        convs_with_one = {3, 8, 10}  # conv2, conv4, conv5 as the paper numbers them
        for i, m in enumerate(self.features):
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 1.0 if i in convs_with_one else 0.0)
        for i, m in enumerate(self.classifier):
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.constant_(m.bias, 0.0 if i == 6 else 1.0)


def build_model(args, classes):
    if args.arch == "paper":
        model = PaperAlexNet(classes, args.width, args.input, args.dropout)
    else:
        model = TorchvisionAlexNet(classes, args.width, args.dropout)
    init = args.init or ("paper" if args.arch == "paper" else "default")
    if init == "paper":
        model.paper_init()
    return model, init


def short_side(args):
    base = 227 if args.arch == "paper" else 224
    return math.ceil(args.input * 256 / base)


# -------------------------------------------------------------------- data


def list_classes(root):
    return sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))


def list_images(root, classes):
    samples = []
    for label, name in enumerate(classes):
        folder = os.path.join(root, name)
        for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
            dirnames.sort()
            for f in sorted(filenames):
                if os.path.splitext(f)[1].lower() in IMAGE_EXTS:
                    samples.append((os.path.join(dirpath, f), label))
    return samples


def find_data(data, holdout):
    """(classes, train samples, val samples) from an ImageFolder-style tree."""
    train_dir = os.path.join(data, "train")
    if os.path.isdir(train_dir):
        classes = list_classes(train_dir)
        train = list_images(train_dir, classes)
        val_dir = os.path.join(data, "val")
        val = []
        if os.path.isdir(val_dir):
            unknown = set(list_classes(val_dir)) - set(classes)
            if unknown:
                sys.exit(f"{val_dir}: classes not in train/: {sorted(unknown)}")
            val = list_images(val_dir, classes)
        return classes, train, val
    classes = list_classes(data)
    # Every holdout-th image of each class validates.
    train, val = [], []
    seen = [0] * len(classes)
    for path, label in list_images(data, classes):
        (val if holdout and seen[label] % holdout == holdout - 1 else train).append((path, label))
        seen[label] += 1
    return classes, train, val


class FolderDataset(torch.utils.data.Dataset):
    """Images through PIL: shorter side to `short`, a crop of `size`
    (random + mirrored when training, centre otherwise), normalized CHW."""

    def __init__(self, samples, size, short, train):
        self.samples, self.size, self.short, self.train = samples, size, short, train
        self.mean = np.array(MEAN, dtype=np.float32).reshape(3, 1, 1)
        self.std = np.array(STD, dtype=np.float32).reshape(3, 1, 1)

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, i):
        path, label = self.samples[i]
        with Image.open(path) as im:
            im = im.convert("RGB")
            w, h = im.size
            scale = self.short / min(w, h)
            # max(size): a very elongated image must still fit the crop.
            nw, nh = max(self.size, round(w * scale)), max(self.size, round(h * scale))
            im = im.resize((nw, nh), Image.BILINEAR)
        if self.train:
            # Python's `random`: seeded per rank (and per DataLoader worker by
            # PyTorch), so ranks draw different crops.
            x0, y0 = random.randint(0, nw - self.size), random.randint(0, nh - self.size)
        else:
            x0, y0 = (nw - self.size) // 2, (nh - self.size) // 2
        im = im.crop((x0, y0, x0 + self.size, y0 + self.size))
        if self.train and random.random() < 0.5:
            im = im.transpose(Image.FLIP_LEFT_RIGHT)
        px = np.asarray(im, dtype=np.float32).transpose(2, 0, 1)
        return torch.from_numpy((px - self.mean) / self.std), label


# --------------------------------------------------------- distributed glue


class Dist:
    """Rank, world and device; works without torchrun as a world of one."""

    def __init__(self, backend):
        self.enabled = "RANK" in os.environ and "WORLD_SIZE" in os.environ
        self.rank = int(os.environ.get("RANK", 0))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", 0))
        cuda = torch.cuda.is_available()
        self.backend = backend or ("nccl" if cuda else "gloo")
        if cuda:
            # One GPU per process; gloo can reduce CUDA tensors too.
            torch.cuda.set_device(self.local_rank)
            self.device = torch.device("cuda", self.local_rank)
        else:
            self.device = torch.device("cpu")
        if self.enabled:
            kw = {"device_id": self.device} if self.device.type == "cuda" else {}
            dist.init_process_group(self.backend, timeout=datetime.timedelta(minutes=30), **kw)

    @property
    def main(self):
        return self.rank == 0

    def sum(self, values):
        """Sums a list of numbers over all ranks."""
        t = torch.tensor(values, dtype=torch.float64, device=self.device)
        if self.enabled:
            dist.all_reduce(t)
        return t.tolist()

    def gather_str(self, s):
        if not self.enabled:
            return [s]
        out = [None] * self.world
        dist.all_gather_object(out, s)
        return out

    def close(self):
        if self.enabled:
            dist.barrier()
            dist.destroy_process_group()


def log(d, *a):
    if d.main:
        print(*a, flush=True)


# ------------------------------------------------------------------ saving


def export_state(model):
    """float32, contiguous, on the CPU: what `host import --state-dict` reads.
    Only parameters (these networks have no buffers)."""
    return {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}


def atomic_write(path, write):
    """Write to a temporary name in the same folder, then rename: a reader (or
    a crash) never sees half a file."""
    tmp = f"{path}.tmp{os.getpid()}"
    write(tmp)
    # safetensors creates its file owner-only; give it the usual umask mode.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)


def labels_path(out):
    stem = out[: -len(".safetensors")] if out.endswith(".safetensors") else out
    return stem + ".labels.txt"


def save(args, model, classes, epochs_done, steps_done, val):
    meta = {
        "format": "alexnet-state-dict",
        "arch": args.arch,
        "names": "project" if args.arch == "paper" else "torchvision",
        "input": json.dumps([3, args.input, args.input]),
        "width": repr(args.width),
        "classes": str(len(classes)),
        "mean": json.dumps(list(MEAN)),
        "std": json.dumps(list(STD)),
        "normalize": "x[c] = (pixel - mean[c]) / std[c], pixel in 0..255",
        "resize_short_side": str(short_side(args)),
        "epochs_done": str(epochs_done),
        "steps_done": str(steps_done),
        "val_top1": "" if val is None else f"{val[0]:.4f}",
        "val_top5": "" if val is None else f"{val[1]:.4f}",
        "torch_version": torch.__version__,
        "recipe": json.dumps({"lr": args.lr, "momentum": 0.9, "weight_decay": args.weight_decay,
                              "batch_per_process": args.batch, "seed": args.seed}),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    state = export_state(model)
    atomic_write(args.out, lambda p: save_file(state, p, metadata=meta))

    def write_labels(p):
        with open(p, "w") as f:
            f.write("\n".join(classes) + "\n")

    atomic_write(labels_path(args.out), write_labels)


# ---------------------------------------------------------------- training


def evaluate(d, model, loader, classes):
    """(top-1, top-5) accuracy over the whole validation set: each rank takes
    a disjoint shard and the counts are summed, so no image is counted twice."""
    model.eval()
    k = min(5, classes)
    c1 = c5 = n = 0
    with torch.no_grad():
        for x, y in loader:
            x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
            top = model(x).topk(k, dim=1).indices
            hit = top == y[:, None]
            c1 += hit[:, 0].sum().item()
            c5 += hit.any(dim=1).sum().item()
            n += y.numel()
    model.train()
    c1, c5, n = d.sum([c1, c5, n])
    return (c1 / n, c5 / n) if n else (0.0, 0.0)


def param_digest(model):
    """sha256 over the parameters' bytes: equal on every rank iff DDP kept the
    replicas bit-identical."""
    h = hashlib.sha256()
    total = 0.0
    for name, p in model.state_dict().items():
        t = p.detach().to("cpu", torch.float32).contiguous()
        h.update(name.encode())
        h.update(t.numpy().tobytes())
        total += t.double().sum().item()
    return h.hexdigest()[:16], total


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["paper", "torchvision"], default="paper")
    ap.add_argument("--width", type=float, default=1.0, help="scale conv and FC widths")
    ap.add_argument("--classes", type=int, help="class count (default: the data's folders)")
    ap.add_argument("--input", type=int, help="input side (default 227 paper, 224 torchvision)")
    ap.add_argument("--data", required=True, help="ImageFolder-style folder")
    ap.add_argument("--out", required=True, help="FILE.safetensors (rank 0 writes it)")
    ap.add_argument("--epochs", type=int, default=90)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many optimizer steps (0 = no limit)")
    ap.add_argument("--batch", type=int, default=128, help="images per process per step")
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--weight-decay", type=float, default=5e-4)
    ap.add_argument("--dropout", type=float, default=0.5)
    ap.add_argument("--schedule", choices=["plateau", "step"], default="plateau",
                    help="lr / 10 when val top-1 stalls, or every --step-epochs")
    ap.add_argument("--patience", type=int, default=1, help="plateau: epochs without a better val top-1")
    ap.add_argument("--step-epochs", type=int, default=30, help="step: epochs between lr / 10")
    ap.add_argument("--init", choices=["paper", "default"], help="paper N(0,0.01) or PyTorch's default")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=4, help="DataLoader workers per process")
    ap.add_argument("--holdout", type=int, default=10,
                    help="without train/ and val/: every Nth image validates (0 = none)")
    ap.add_argument("--val-limit", type=int, default=0, help="validate on at most N images (0 = all)")
    ap.add_argument("--print-every", type=int, default=50, help="steps between progress lines")
    ap.add_argument("--backend", choices=["nccl", "gloo"], help="default nccl with CUDA, else gloo")
    ap.add_argument("--checkpoint", help="resume from / save optimizer state to this .pt each epoch")
    args = ap.parse_args(argv)
    if args.input is None:
        args.input = 227 if args.arch == "paper" else 224
    return args


def main():
    args = parse_args()
    d = Dist(args.backend)
    # Same seed on every rank for the model (DDP broadcasts rank 0's weights
    # anyway); data order comes from the DistributedSampler's seed, and the
    # augmentation and dropout streams differ per rank.
    torch.manual_seed(args.seed)
    random.seed(args.seed * 1000 + d.rank)
    if d.device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    classes, train_samples, val_samples = find_data(args.data, args.holdout)
    if not train_samples:
        sys.exit(f"no training images under {args.data}")
    if args.classes is not None:
        if args.classes < len(classes):
            sys.exit(f"--classes {args.classes} but the data has {len(classes)} class folders")
        # Extra outputs for classes without data yet; labels get placeholders.
        classes = classes + [f"class{i}" for i in range(len(classes), args.classes)]
    if args.val_limit and len(val_samples) > args.val_limit:
        # Evenly spaced, so every class keeps some images.
        idx = np.linspace(0, len(val_samples) - 1, args.val_limit).round().astype(int)
        val_samples = [val_samples[i] for i in idx]

    short = short_side(args)
    train_set = FolderDataset(train_samples, args.input, short, train=True)
    val_set = FolderDataset(val_samples, args.input, short, train=False)
    sampler = torch.utils.data.distributed.DistributedSampler(
        train_set, num_replicas=d.world, rank=d.rank, shuffle=True, seed=args.seed, drop_last=True)
    pin = d.device.type == "cuda"
    loader = torch.utils.data.DataLoader(
        train_set, batch_size=args.batch, sampler=sampler, num_workers=args.workers, pin_memory=pin,
        drop_last=True, persistent_workers=args.workers > 0)
    # Validation shards by hand (not DistributedSampler, which pads with repeats).
    val_loader = torch.utils.data.DataLoader(
        torch.utils.data.Subset(val_set, range(d.rank, len(val_set), d.world)),
        batch_size=args.batch, num_workers=args.workers, pin_memory=pin)
    if len(loader) == 0:
        sys.exit(f"{len(train_set)} training images are fewer than one global batch of {args.batch * d.world}")

    model, init = build_model(args, len(classes))
    model.to(d.device)
    n_params = sum(p.numel() for p in model.parameters())
    ddp = nn.parallel.DistributedDataParallel(model, device_ids=[d.local_rank] if d.device.type == "cuda" else None) \
        if d.enabled else model
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.weight_decay)
    use_plateau = args.schedule == "plateau" and len(val_set) > 0
    if use_plateau:
        # PyTorch's patience counts bad epochs *before* the one that drops the
        # lr; the project's counts the epochs without improvement, hence - 1.
        # threshold 0: any better top-1 counts as improvement.
        sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max", factor=0.1, patience=max(args.patience - 1, 0), threshold=0.0)
    else:
        sched = torch.optim.lr_scheduler.StepLR(opt, args.step_epochs, gamma=0.1)
    loss_fn = nn.CrossEntropyLoss()

    start_epoch, step = 0, 0
    if args.checkpoint and os.path.exists(args.checkpoint):
        ck = torch.load(args.checkpoint, map_location=d.device, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        sched.load_state_dict(ck["sched"])
        start_epoch, step = ck["epoch"], ck["step"]
        log(d, f"resumed from {args.checkpoint}: epoch {start_epoch}, step {step}")

    log(d, f"{args.arch} x{args.width}: {n_params:,} parameters, {len(classes)} classes, input {args.input}, "
           f"short side {short}, init {init}")
    log(d, f"world {d.world} ({d.backend}, {d.device.type}), batch {args.batch}/process = {args.batch * d.world} global, "
           f"{len(train_set)} train / {len(val_set)} val images, {len(loader)} steps/epoch, "
           f"schedule {'plateau' if use_plateau else 'step'}")

    val = None
    epoch = start_epoch
    done = False
    while epoch < args.epochs and not done:
        sampler.set_epoch(epoch)
        ddp.train()
        t0, seen, loss_sum, loss_n = time.perf_counter(), 0, torch.zeros((), device=d.device), 0
        for x, y in loader:
            x, y = x.to(d.device, non_blocking=True), y.to(d.device, non_blocking=True)
            loss = loss_fn(ddp(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()  # DDP averages the gradients over the ranks here
            opt.step()
            step += 1
            seen += y.numel()
            loss_sum += loss.detach()
            loss_n += 1
            last = args.max_steps and step >= args.max_steps
            if step % args.print_every == 0 or last:
                # Mean loss over all ranks; .item() syncs, so only at print time.
                total, count = d.sum([loss_sum.item(), loss_n])
                dt = time.perf_counter() - t0
                log(d, f"epoch {epoch + 1} step {step}: loss {total / count:.4f}, "
                       f"lr {opt.param_groups[0]['lr']:.2e}, {seen * d.world / dt:.1f} img/s")
                t0, seen, loss_sum, loss_n = time.perf_counter(), 0, torch.zeros((), device=d.device), 0
            if last:
                done = True
                break
        epoch += 1
        if len(val_set):
            val = evaluate(d, model, val_loader, len(classes))
            log(d, f"epoch {epoch}: val top-1 {100 * val[0]:.2f}%, top-5 {100 * val[1]:.2f}% ({len(val_set)} images)")
        if use_plateau:
            sched.step(val[0])
        else:
            sched.step()
        if d.main:
            save(args, model, classes, epoch, step, val)
            if args.checkpoint:
                ck = {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                      "epoch": epoch, "step": step}
                atomic_write(args.checkpoint, lambda p: torch.save(ck, p))

    digest, total = param_digest(model)
    digests = d.gather_str(digest)
    print(f"rank {d.rank}: parameter sha256 {digest}, sum {total:.9g}", flush=True)
    if d.main:
        if len(set(digests)) != 1:
            sys.exit(f"replicas differ: {digests}")
        if d.world > 1:
            log(d, f"all {d.world} ranks hold identical parameters")
        log(d, f"wrote {args.out} and {labels_path(args.out)} ({epoch} epochs, {step} steps)")
    d.close()


if __name__ == "__main__":
    main()
