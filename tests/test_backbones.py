import pytest
import torch
import torchvision

from afg.backbones import create_backbone

CASES = [
    ("resnet18", 512),
    ("resnet34", 512),
    ("resnet50", 2048),
    ("resnet101", 2048),
    ("swin_tiny_patch4_window7_224", 768),
    ("swin_base_patch4_window7_224", 1024),
    ("densenet121", 1024),
]


@pytest.mark.parametrize("name,channels", CASES)
@pytest.mark.parametrize("size,grid", [(112, (4, 4)), (224, (7, 7))])
def test_token_shapes(name, channels, size, grid):
    if name == "densenet121" and size == 112:
        grid = (3, 3)  # DenseNet's last transition pools 7→3 at 112 px
    bb = create_backbone(name, img_size=size).eval()
    with torch.no_grad():
        y = bb(torch.randn(2, 3, size, size))
    assert bb.num_features == channels
    assert bb.grid == grid
    assert y.shape == (2, grid[0] * grid[1], channels)


def test_tokens_match_feature_map_layout():
    bb = create_backbone("resnet18", img_size=112).eval()
    x = torch.randn(1, 3, 112, 112)
    with torch.no_grad():
        fmap = bb.feature_map(x)  # (1, C, h, w)
        tok = bb(x)
    # token d = row*w + col
    assert torch.allclose(tok[0, 1 * 4 + 2], fmap[0, :, 1, 2])


@pytest.mark.parametrize("name", ["resnet18", "swin_tiny_patch4_window7_224"])
def test_local_weights_round_trip(tmp_path, name):
    a = create_backbone(name, img_size=224).eval()
    path = tmp_path / "w.pth"
    torch.save(a.state_dict(), path)  # our wrapper's keys ("model." prefix)
    b = create_backbone(name, weights=path, img_size=224).eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))


def test_torchvision_resnet50_checkpoint_loads(tmp_path):
    tv = torchvision.models.resnet50(weights=None).eval()
    path = tmp_path / "resnet50-19c8e357.pth"
    torch.save(tv.state_dict(), path)
    bb = create_backbone("resnet50", weights=path, img_size=224).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ref = torch.nn.Sequential(*list(tv.children())[:-2])(x)  # (1, 2048, 7, 7)
        ours = bb(x)
    assert torch.allclose(ours, ref.flatten(2).transpose(1, 2), atol=1e-5)


def test_torchvision_densenet_checkpoint_loads(tmp_path):
    tv = torchvision.models.densenet121(weights=None).eval()
    path = tmp_path / "densenet121.pth"
    torch.save(tv.state_dict(), path)
    bb = create_backbone("densenet121", weights=path, img_size=224).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        ref = torch.relu(tv.features(x))
        ours = bb(x)
    assert torch.allclose(ours, ref.flatten(2).transpose(1, 2), atol=1e-5)


def test_wrong_architecture_weights_rejected(tmp_path):
    path = tmp_path / "r18.pth"
    torch.save(create_backbone("resnet18").state_dict(), path)
    with pytest.raises(ValueError):
        create_backbone("resnet50", weights=path)


def test_missing_weights_file():
    with pytest.raises(FileNotFoundError, match="not found"):
        create_backbone("resnet18", weights="/nonexistent/w.pth")


def test_pretrained_without_hub_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "hf"), raising=False)
    with pytest.raises(RuntimeError, match="weights="):
        create_backbone("resnet18", pretrained=True)


def test_resnet_tiny_gives_the_papers_7x7_grid_at_112px():
    bb = create_backbone("resnet_tiny", img_size=112).eval()
    with torch.no_grad():
        y = bb(torch.randn(2, 3, 112, 112))
    assert (bb.grid, bb.num_features, y.shape) == ((7, 7), 256, (2, 49, 256))
    assert sum(p.numel() for p in bb.parameters()) < 2_000_000
    with pytest.raises(ValueError, match="synthetic"):
        create_backbone("resnet_tiny", pretrained=True)


def test_timm_layout_filter_kept_only_when_it_fits_better(tmp_path, monkeypatch):
    """timm's ``checkpoint_filter_fn`` converts foreign layouts (DenseNet above); a filter that
    remaps a state dict already in the model's layout (seen with another timm's Swin) is ignored."""
    import timm.models.resnet as tr

    a = create_backbone("resnet18", img_size=64).eval()
    path = tmp_path / "w.pth"
    torch.save(a.state_dict(), path)

    def wrong_remap(sd, model):  # renames a block, as an old-layout conversion would
        return {k.replace("layer4.", "layer3."): v for k, v in sd.items()}

    monkeypatch.setattr(tr, "checkpoint_filter_fn", wrong_remap, raising=False)
    b = create_backbone("resnet18", weights=path, img_size=64).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(a(x), b(x))

    def right_remap(sd, model):  # a foreign layout that only the filter can read
        return {k.replace("blockfour.", "layer4."): v for k, v in sd.items()}

    torch.save({k.replace("layer4.", "blockfour."): v for k, v in a.model.state_dict().items()}, path)
    monkeypatch.setattr(tr, "checkpoint_filter_fn", right_remap, raising=False)
    c = create_backbone("resnet18", weights=path, img_size=64).eval()
    with torch.no_grad():
        assert torch.equal(a(x), c(x))
