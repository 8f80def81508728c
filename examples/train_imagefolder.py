#!/usr/bin/env python3
"""train_imagefolder.py - a real PyTorch training loop, fed by either
torchvision's ImageFolder + DataLoader or pvpack; the loop is the same.

    # the torchvision baseline
    python examples/train_imagefolder.py --imagefolder /data/train --workers 2
    # pvpack: pack once, then train from the packed dataset
    pvpack build /data/train                      # or pvpack.build("/data/train")
    python examples/train_imagefolder.py --pvpack /data/train.pvpack --workers 2

    # on a GPU: model on cuda, batches decoded by pvpack's CPU threads,
    # copied as uint8 and normalized on the GPU (torchvision: .to(device))
    python examples/train_imagefolder.py --pvpack /data/train.pvpack --device cuda

The change is the two lines marked "<-- the change" below: the dataset and
the loader. With --device cuda, torchvision's batches are moved with
.to(device, non_blocking=True) (pinned memory), pvpack's arrive on the GPU
(device=..., ready on torch's current stream; no copy in the loop). Both produce float32 NCHW batches normalized with ImageNet's
mean/std after RandomResizedCrop + RandomHorizontalFlip. Prints loss and
images/s (loading + training, measured from the 2nd step on) every
--print-every steps, and a summary line at the end.
"""
import argparse
import time

import torch
import torch.nn as nn
import torchvision


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--imagefolder", metavar="DIR", help="ImageFolder tree (torchvision)")
    src.add_argument("--pvpack", metavar="DIR", help="dataset written by pvpack build")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--workers", type=int, default=2, help="DataLoader workers / pvpack threads")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--arch", default="resnet18")
    ap.add_argument("--torch-threads", type=int, default=0,
                    help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--print-every", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (model and batches)")
    ap.add_argument("--channels-last", action="store_true",
                    help="with --pvpack: NHWC batches and a channels_last model")
    a = ap.parse_args()
    device = torch.device(a.device)
    torch.manual_seed(a.seed)
    if a.torch_threads:
        torch.set_num_threads(a.torch_threads)

    if a.imagefolder:
        from torchvision import datasets, transforms
        tf = transforms.Compose([
            transforms.RandomResizedCrop(a.size), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        dataset = datasets.ImageFolder(a.imagefolder, transform=tf)            # <-- the change
        loader = torch.utils.data.DataLoader(dataset, batch_size=a.batch_size,  # <-- the change
                                             shuffle=True, num_workers=a.workers,
                                             drop_last=True, persistent_workers=a.workers > 0,
                                             pin_memory=device.type == "cuda")
    else:
        import pvpack
        dataset = pvpack.Dataset(a.pvpack)                                      # <-- the change
        loader = pvpack.Loader(dataset, batch_size=a.batch_size, size=a.size,   # <-- the change
                               threads=a.workers, drop_last=True, seed=a.seed,
                               device=device,
                               layout="NHWC" if a.channels_last else "NCHW")

    model = getattr(torchvision.models, a.arch)(num_classes=len(dataset.classes)).to(device)
    if a.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=a.lr, total_steps=a.steps)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    step, seen, t_start, t_load, epoch = 0, 0, None, 0.0, 0
    t_wait = time.perf_counter()
    while step < a.steps:
        for images, labels in loader:
            t_got = time.perf_counter()
            if t_start is not None:
                t_load += t_got - t_wait
            if images.device != device:  # torchvision's (pvpack's are there already)
                images = images.to(device, non_blocking=True)
                labels = labels.to(device, non_blocking=True)
            elif a.channels_last and a.pvpack:  # NHWC batch -> an NCHW-shaped channels_last view
                images = images.permute(0, 3, 1, 2)
            loss = loss_fn(model(images), labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            if t_start is None:  # clock from the end of the 1st step
                t_start = time.perf_counter()
            else:
                seen += images.shape[0]
            if step % a.print_every == 0 or step == a.steps:
                loss_v = loss.item()  # syncs the GPU: the rate below is real
                el = time.perf_counter() - t_start
                print(f"epoch {epoch} step {step}/{a.steps} loss {loss_v:.4f} "
                      f"{seen / el if el > 0 else 0:.1f} images/s "
                      f"(waiting for data {100 * t_load / el if el > 0 else 0:.0f}%)", flush=True)
            t_wait = time.perf_counter()
            if step == a.steps:
                break
        epoch += 1
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    el = time.perf_counter() - t_start
    src_name = "pvpack" if a.pvpack else "imagefolder"
    print(f"done: {src_name} {a.arch} on {device} batch {a.batch_size} size {a.size} "
          f"workers {a.workers}: "
          f"{seen / el:.1f} images/s over steps 2..{step}, data wait {t_load:.1f} s of {el:.1f} s, "
          f"final loss {loss.item():.4f}")


if __name__ == "__main__":
    main()
