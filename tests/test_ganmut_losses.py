"""GANmut-3D networks, codes and every loss term of eqs. (1)-(8) on tiny models."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from emo_app.errors import InvalidInputError
from emo_app.ganmut import losses as L
from emo_app.ganmut.au import (
    FEAR_AUS,
    SAD_AUS,
    Z_MAX,
    action_units_from_blendshapes,
    z_from_action_units,
    z_targets,
)
from emo_app.ganmut.codes import ClassDirections, estimate_strength, sample_codes
from emo_app.ganmut.config import NEUTRAL_INDEX, GanmutConfig
from emo_app.ganmut.models import Discriminator, Generator


def tiny_config(**overrides) -> GanmutConfig:
    values = dict(image_size=32, g_conv_dim=8, d_conv_dim=8, g_repeat_num=1, batch_size=4)
    return GanmutConfig(**(values | overrides))


@pytest.fixture
def nets():
    torch.manual_seed(0)
    cfg = tiny_config()
    return cfg, Generator(cfg), Discriminator(cfg), ClassDirections(cfg)


def images(n=4, size=32, seed=0) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def has_grad(module: torch.nn.Module) -> bool:
    return any(p.grad is not None and p.grad.abs().sum() > 0 for p in module.parameters())


def test_shapes_at_32_and_128_px():
    for size in (32, 128):
        cfg = tiny_config(image_size=size)
        x = images(2, size)
        out = Generator(cfg)(x, torch.zeros(2, 3))
        assert out.shape == x.shape and out.abs().max() <= 1.0
        d = Discriminator(cfg)(x)
        assert d.src.shape == (2, 1, 2, 2)  # PatchGAN: a 2x2 grid of patch scores
        assert d.cls.shape == (2, 7) and d.coor.shape == (2, 3)


def test_default_generator_is_the_paper_backbone():
    cfg = GanmutConfig()
    g = Generator(cfg)
    convs = [m for m in g.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs[0].kernel_size == (7, 7) and convs[0].in_channels == 6 and convs[0].out_channels == 64
    assert convs[-1].kernel_size == (7, 7) and convs[-1].out_channels == 3
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in g.modules()) == 2
    residual_widths = {m.body[0].in_channels for m in g.modules() if m.__class__.__name__ == "ResidualBlock"}
    assert residual_widths == {256}
    assert cfg.discriminator_depth == 6 and cfg.n_critic == 5 and cfg.lambda_rec == 10


def test_generator_output_depends_on_code(nets):
    cfg, G, _, _ = nets
    x = images()
    a = G(x, torch.zeros(4, 3))
    b = G(x, torch.tensor([[0.0, 0.0, 1.0]]).expand(4, 3))
    assert (a - b).abs().mean() > 1e-4


def test_config_rejects_bad_sizes():
    with pytest.raises(InvalidInputError, match="power of two"):
        GanmutConfig(image_size=100)


def test_class_directions_unit_and_cover_the_whole_sphere():
    cfg = tiny_config()
    dirs = ClassDirections(cfg)()
    assert dirs.shape == (7, 3)
    assert torch.all(dirs[NEUTRAL_INDEX] == 0)
    emotional = torch.cat([dirs[:NEUTRAL_INDEX], dirs[NEUTRAL_INDEX + 1 :]])
    assert torch.allclose(emotional.norm(dim=1), torch.ones(6), atol=1e-6)
    # Over many seeds, initial directions land in all 8 octants (GANmut's covered only one).
    octants = set()
    for seed in range(30):
        d = ClassDirections(tiny_config(seed=seed))().detach()
        for row in d:
            if row.norm() > 0:
                octants.add(tuple((row > 0).tolist()))
    assert len(octants) == 8


def test_sampled_codes_follow_rho_ranges():
    cfg = tiny_config(code_noise_std=0.0, off_axis_codes=0)
    dirs = ClassDirections(cfg)()
    codes = sample_codes(dirs, 2000, cfg, torch.Generator().manual_seed(3))
    assert codes.on_axis.all()
    neutral = codes.target == NEUTRAL_INDEX
    assert 0.08 < neutral.float().mean() < 0.22  # ~1/7 neutral
    assert torch.all(codes.rho[neutral] < 0.2) and torch.all(codes.rho[~neutral] >= 0.2)
    assert torch.all(codes.rho <= 1.0)
    assert torch.allclose(codes.code.norm(dim=1), codes.rho, atol=1e-5)
    # emotional codes point along their class direction
    cos = (codes.code[~neutral] / codes.rho[~neutral, None] * dirs[codes.target[~neutral]]).sum(1)
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-5)
    codes.code.sum().backward()  # codes are differentiable in the learned directions


def test_codes_leave_the_class_axes_to_cover_compound_emotions():
    """GANmut's training codes: n_r = 5 codes per batch in random directions (here over the
    whole sphere, for Fear above and Sad below) and 0.075 noise on the others, so the generator
    sees the space between the seven axes; the off-axis rows are kept out of eq. (2)."""
    cfg = tiny_config()
    assert (cfg.off_axis_codes, cfg.code_noise_std) == (5, 0.075)
    dirs = ClassDirections(cfg)()
    on_axis_cos, off_axis_cos, residuals, octants = [], [], [], set()
    for seed in range(40):
        codes = sample_codes(dirs, 16, cfg, torch.Generator().manual_seed(seed))
        assert codes.on_axis.tolist() == [False] * 5 + [True] * 11
        assert torch.allclose(codes.code[:5].norm(dim=1), codes.rho[:5], atol=1e-5)
        emotional = codes.target != NEUTRAL_INDEX
        unit = codes.code / codes.code.norm(dim=1, keepdim=True)
        cos = (unit * dirs[codes.target]).sum(1)
        on_axis_cos += cos[codes.on_axis & emotional].tolist()
        along = codes.rho[:, None] * dirs[codes.target]
        residuals.append((codes.code - along)[codes.on_axis & emotional])
        off_axis_cos += cos[~codes.on_axis & emotional].tolist()
        octants |= {tuple((row > 0).tolist()) for row in codes.code[:5]}
    on_axis_cos, off_axis_cos = np.array(on_axis_cos), np.array(off_axis_cos)
    noise = torch.cat(residuals).detach()
    assert float(noise.std()) == pytest.approx(0.075, rel=0.1) and abs(float(noise.mean())) < 0.01
    assert np.median(on_axis_cos) > 0.95  # still near their class axis
    assert off_axis_cos.min() < 0.0 and len(octants) == 8  # anywhere on the sphere
    # a code far from every class axis is common among the off-axis ones
    assert np.mean(off_axis_cos < 0.7) > 0.5
    fake_cls = torch.zeros(16, 7)
    fake_cls[:5, 0] = 50.0  # the off-axis rows "look neutral": no penalty, they have no class
    target = torch.full((16,), 3)
    masked = L.classification_fake_loss(fake_cls, target, codes.on_axis)
    assert float(masked) == pytest.approx(math.log(7), rel=1e-5)
    assert float(L.classification_fake_loss(fake_cls, target)) > float(masked) + 10


def test_gradient_penalty_zero_for_unit_lipschitz_linear_critic():
    w = torch.randn(3, 8, 8, generator=torch.Generator().manual_seed(1))
    unit = w / w.norm()
    real, fake = images(6, 8, 1), images(6, 8, 2)

    def critic(x):
        return (x * unit).flatten(1).sum(1)

    assert float(L.gradient_penalty(critic, real, fake)) == pytest.approx(0.0, abs=1e-10)

    def steep(x):  # gradient norm 3 -> penalty (3 - 1)^2 = 4
        return 3 * critic(x)

    assert float(L.gradient_penalty(steep, real, fake)) == pytest.approx(4.0, rel=1e-5)


def test_gradient_penalty_reaches_the_discriminator(nets):
    _, G, D, _ = nets
    gp = L.gradient_penalty(lambda t: D(t).src, images(), images(seed=1))
    assert gp.ndim == 0 and torch.isfinite(gp)
    gp.backward()
    assert D.main[0].weight.grad is not None and D.main[0].weight.grad.abs().sum() > 0
    assert not has_grad(G)


def test_adversarial_loss_sign():
    high, low = torch.ones(4, 1, 2, 2), torch.zeros(4, 1, 2, 2)
    assert float(L.adversarial_loss(high, low, 0.0, 10.0)) == 1.0  # critic separates: L_adv up
    assert float(L.adversarial_loss(low, high, 0.0, 10.0)) == -1.0
    assert float(L.adversarial_loss(high, low, torch.tensor(0.5), 10.0)) == pytest.approx(-4.0)


def test_generator_losses_send_gradient_to_generator_and_directions(nets):
    cfg, G, D, directions = nets
    D.requires_grad_(False)
    x = images()
    codes = sample_codes(directions(), 4, tiny_config(off_axis_codes=1), torch.Generator().manual_seed(0))
    assert codes.on_axis.tolist() == [False, True, True, True]
    fake = G(x, codes.code)
    out = D(fake)
    terms = {
        "cls_fake": L.classification_fake_loss(out.cls, codes.target, codes.on_axis),
        "info": L.info_loss(out.coor, codes.code),
        "rec": L.reconstruction_loss(x, G(fake, D(x).coor)),
        "rho": L.strength_loss(estimate_strength(out.cls), codes.rho),
        "adv": -out.src.mean(),
    }
    for name, value in terms.items():
        assert value.ndim == 0 and torch.isfinite(value.detach()), name
        G.zero_grad()
        directions.zero_grad()
        value.backward(retain_graph=True)
        assert has_grad(G), name
    # the info loss moves the class directions (they shape the target code)
    directions.zero_grad()
    terms["info"].backward(retain_graph=True)
    assert directions.raw.grad is not None and directions.raw.grad.abs().sum() > 0
    values = {k: float(v.detach()) for k, v in terms.items()}
    assert values["cls_fake"] > 0 and values["rec"] > 0 and values["info"] >= 0


def test_discriminator_real_terms_train_the_right_heads(nets):
    _, G, D, _ = nets
    x = images()
    out = D(x)
    va = torch.tensor([[0.5, 0.5], [-0.5, 0.2], [0.0, 0.0], [0.9, -0.1]])
    for loss, head in (
        (L.valence_arousal_loss(out.coor, va), D.coor_head),
        (L.au_z_loss(out.coor, torch.tensor([0.8, -0.8, 0.0, 0.1])), D.coor_head),
        (L.classification_real_loss(out.cls, torch.tensor([0, 1, 2, 3])), D.cls_head),
    ):
        D.zero_grad()
        assert loss.ndim == 0 and float(loss.detach()) > 0
        loss.backward(retain_graph=True)
        assert head.weight.grad.abs().sum() > 0
        assert D.src_head.weight.grad is None or D.src_head.weight.grad.abs().sum() == 0
        assert not has_grad(G)


def test_masked_terms_ignore_unlabelled_rows():
    coor = torch.tensor([[0.1, 0.2, 0.3], [5.0, 5.0, 5.0]])
    va = torch.tensor([[0.1, 0.2], [float("nan"), float("nan")]])
    mask = torch.tensor([True, False])
    assert float(L.valence_arousal_loss(coor, va, mask)) == pytest.approx(0.0)
    assert float(L.au_z_loss(coor, torch.tensor([0.3, float("nan")]), mask)) == pytest.approx(0.0)
    assert float(L.au_z_loss(coor, torch.tensor([0.3, 0.0]), torch.tensor([False, False]))) == 0.0
    assert float(L.au_z_loss(coor, torch.tensor([0.0, 0.0]))) == pytest.approx((0.09 + 25) / 2)


def test_strength_loss_averages_over_the_emotional_codes_only():
    """GANmut divides the masked squared error by the mask's sum, not by the batch size."""
    rho_hat = torch.tensor([0.9, 0.9, 0.9])
    assert float(L.strength_loss(rho_hat, torch.tensor([0.1, 0.15, 0.19]))) == 0.0
    assert float(L.strength_loss(rho_hat, torch.tensor([0.5, 0.1, 0.9]))) == pytest.approx(0.16 / 2)


def test_info_loss_averages_over_the_coordinates():
    """F.mse_loss as in GANmut: one coordinate off by 0.3 in one of two codes -> 0.09 / 6."""
    code = torch.zeros(2, 3)
    coor = torch.tensor([[0.3, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert float(L.info_loss(coor, code)) == pytest.approx(0.09 / 6)


def test_strength_estimate_is_the_top_class_probability():
    """rho-hat = max softmax of D_cls (GANmut), whatever D_coor says."""
    logits = torch.full((3, 7), 0.0)
    logits[0, 4] = math.log(6 * 9.0)  # p(Fearful) = 54 / 60 = 0.9
    logits[1, NEUTRAL_INDEX] = math.log(6 * 1.0)  # p(Neutral) = 6 / 12 = 0.5
    rho_hat = estimate_strength(logits)
    assert torch.allclose(rho_hat, torch.tensor([0.9, 0.5, 1 / 7]), atol=1e-6)
    logits.requires_grad_(True)
    estimate_strength(logits).sum().backward()
    assert logits.grad.abs().sum() > 0  # eq. (5) trains G through D_cls


def test_objectives_combine_terms_with_the_paper_weights():
    cfg = tiny_config()
    t = {k: torch.tensor(v) for k, v in dict(a=0.5, b=1.0, c=2.0, d=3.0, e=4.0).items()}
    d = L.discriminator_objective(
        adv=t["a"], cls_real=t["b"], info=t["c"], av=t["d"], au_z=t["e"], config=cfg
    )
    assert float(d.total) == pytest.approx(-0.5 + 1 + 2 + 3 + 4)
    g = L.generator_objective(adv=t["a"], cls_fake=t["b"], rec=t["c"], info=t["d"], rho=t["e"], config=cfg)
    assert float(g.total) == pytest.approx(0.5 + 1 + 10 * 2 + 3 + 4)
    assert set(g.parts) >= {"G/rec", "G/rho", "G/total"}


def test_action_units_map_fear_up_and_sadness_down():
    fear_face = {"browInnerUp": 0.8, "browOuterUpLeft": 0.7, "browOuterUpRight": 0.7, "browDownLeft": 0.3,
                 "browDownRight": 0.3, "eyeWideLeft": 0.8, "eyeWideRight": 0.8, "mouthStretchLeft": 0.6,
                 "mouthStretchRight": 0.6}
    sad_face = {"browInnerUp": 0.7, "browDownLeft": 0.4, "browDownRight": 0.4, "mouthFrownLeft": 0.8,
                "mouthFrownRight": 0.8, "mouthShrugLower": 0.6}
    happy_face = {"mouthSmileLeft": 0.9, "mouthSmileRight": 0.9, "cheekSquintLeft": 0.6,
                  "cheekSquintRight": 0.6}
    z_fear = z_from_action_units(action_units_from_blendshapes(fear_face))
    z_sad = z_from_action_units(action_units_from_blendshapes(sad_face))
    z_happy = z_from_action_units(action_units_from_blendshapes(happy_face))
    assert 0.3 < z_fear <= Z_MAX and -Z_MAX <= z_sad < -0.3 and z_happy == 0.0
    full_fear = z_from_action_units({au: 1.0 for au in FEAR_AUS})
    full_sad = z_from_action_units({au: 1.0 for au in SAD_AUS})
    assert full_fear > 0.5 and full_sad < -0.5 and abs(full_fear) <= Z_MAX


def test_z_targets_use_a_pluggable_estimator_and_mark_missing_faces():
    def estimator(image):
        return None if image.mean() < 10 else {5: 1.0, 20: 1.0}

    dark, bright = np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 200, np.uint8)
    values = z_targets([dark, bright], estimator)
    assert math.isnan(values[0]) and values[1] > 0
