"""Heatmaps of the authors' MIPNet code against this plugin's, through the checkpoint converter.

    python tools/analysis/authors_parity.py --authors-repo PATH/TO/MIPNet [--batch 2]

PATH/TO/MIPNet is a checkout of GitHub rawalkhirodkar/MIPNet (not part of this repository).
Builds their ``lib/models/pose_hrnet_se_lambda.py`` from their W48 384x288 experiment file
with ``MODEL.SE_MODULES [False, False, True, True]`` (their test scripts'), gives it random
weights and batch-norm statistics, saves it as their training checkpoint (``module.`` names,
``latest_state_dict``), converts that file with tools/convert_official_ckpt.py for
``--config``, loads the result strictly (``init_mipnet``) and compares our λ=0 and λ=1
heatmaps with theirs for the codes [1, 0] and [0, 1] on random inputs. Prints the maximum
absolute difference per λ (docs/weights_and_export.md, "Parity with the authors' code").
"""
import argparse
import importlib.util
import os.path as osp
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
W48_CONFIG = REPO / 'configs' / 'mipnet_hrnet-w48_4xb10-110e_coco-384x288.py'


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--authors-repo', required=True,
                        help='a checkout of GitHub rawalkhirodkar/MIPNet')
    parser.add_argument('--experiment',
                        default='experiments/coco/hrnet/w48_384x288_adam_lr1e-3.yaml',
                        help='their experiment file, below --authors-repo (default: W48 '
                        '384x288)')
    parser.add_argument('--config', default=str(W48_CONFIG),
                        help='our config of the same model (default: the W48 COCO config)')
    parser.add_argument('--batch', type=int, default=2, help='random inputs (default: 2)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


class _Cfg(dict):
    """Their yacs config read as a dict with attribute access (``cfg.MODEL.SE_MODULES``)."""

    def __getattr__(self, key):
        value = self[key]
        return _Cfg(value) if isinstance(value, dict) else value


def random_state(model, seed: int) -> dict:
    """Random weights scaled so that activations stay of order 1 through the deep net, random
    batch-norm statistics and counters."""
    import torch
    gen = torch.Generator().manual_seed(seed)
    state = {}
    for key, value in model.state_dict().items():
        if key.endswith('num_batches_tracked'):
            state[key] = torch.randint(1, 1000, value.shape, generator=gen)
        elif key.endswith('running_var'):
            state[key] = torch.rand(value.shape, generator=gen) + 0.5
        elif key.endswith('running_mean') or (value.dim() == 1 and 'weight' not in key):
            state[key] = torch.empty(value.shape).uniform_(-0.1, 0.1, generator=gen)
        elif value.dim() == 1:  # batch-norm scales
            state[key] = torch.empty(value.shape).uniform_(0.2, 0.6, generator=gen)
        else:  # conv / linear weights, 1/sqrt(fan-in)
            state[key] = torch.randn(value.shape, generator=gen) / value[0].numel() ** 0.5
    return state


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch
    import yaml
    from mmengine.config import Config

    from mipnet_mmpose.apis import init_mipnet
    from mipnet_mmpose.models.utils.onnx_wrapper import MultiInstanceHeatmapExporter

    source = osp.join(args.authors_repo, 'lib', 'models', 'pose_hrnet_se_lambda.py')
    spec = importlib.util.spec_from_file_location('authors_pose_hrnet_se_lambda', source)
    authors = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(authors)
    with open(osp.join(args.authors_repo, args.experiment)) as f:
        raw = yaml.safe_load(f)
    raw['MODEL']['SE_MODULES'] = [False, False, True, True]
    theirs = authors.get_pose_net(_Cfg(raw), is_train=False)
    state = random_state(theirs, args.seed)
    theirs.load_state_dict(state, strict=True)
    theirs.eval()

    with tempfile.TemporaryDirectory() as tmp:
        src, dst = osp.join(tmp, 'theirs.pth'), osp.join(tmp, 'ours.pth')
        wrapped = {f'module.{k}': v for k, v in state.items()}
        torch.save(dict(epoch=0, state_dict=wrapped, latest_state_dict=wrapped), src)
        subprocess.run([sys.executable, str(REPO / 'tools' / 'convert_official_ckpt.py'),
                        src, dst, '--config', args.config], check=True)
        ours = init_mipnet(Config.fromfile(args.config), checkpoint=dst, device='cpu').eval()
    width, height = raw['MODEL']['IMAGE_SIZE']
    x = torch.randn(args.batch, 3, height, width,
                    generator=torch.Generator().manual_seed(args.seed + 1))
    with torch.no_grad():
        our_heatmaps = MultiInstanceHeatmapExporter(ours)(x)  # (B, N, K, h, w)
        their_heatmaps = [theirs(x, code.expand(args.batch, 2))
                          for code in (torch.tensor([[1., 0.]]), torch.tensor([[0., 1.]]))]
    for lam, heatmaps in enumerate(their_heatmaps):
        diff = (our_heatmaps[:, lam] - heatmaps).abs().max().item()
        print(f'lambda={lam}: max |difference| {diff:.3g} on heatmaps of magnitude up to '
              f'{heatmaps.abs().max().item():.3g}, shape {tuple(heatmaps.shape)}')
    print('the two lambda codes\' heatmaps differ by up to '
          f'{(their_heatmaps[0] - their_heatmaps[1]).abs().max().item():.3g}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
