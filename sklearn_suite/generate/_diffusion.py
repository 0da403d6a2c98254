"""Training and sampling pieces of GlyphDraw: noise schedule, condition dropout,
box-weighted loss, DDIM sampling with (dual) classifier-free guidance."""

import numpy as np
import torch

# Pixel-space DDPM schedule (Ho et al.): SD's scaled-linear 0.00085-0.012 schedule is
# tuned for latents and leaves too much signal at t = T for pixels (the global
# colour could not be changed from pure noise).
SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_schedule": "linear",
    "beta_start": 1e-4,
    "beta_end": 0.02,
}
PREDICTION_TYPES = ("v_prediction", "epsilon")


def training_scheduler(prediction_type):
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULE, prediction_type=prediction_type, clip_sample=True)


def noisy_input_and_target(scheduler, x0, t, generator=None):
    """``x_t`` for clean images ``x0`` at timesteps ``t``, and what the UNet must
    predict: the noise (``epsilon``) or ``v = sqrt(a) eps - sqrt(1 - a) x0``."""
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    x_t = scheduler.add_noise(x0, noise, t)
    if scheduler.config.prediction_type == "epsilon":
        return x_t, noise
    return x_t, scheduler.get_velocity(x0, noise, t)


def condition_dropout(n, probabilities, rng):
    """GlyphDraw's three-way condition dropout, one uniform draw per sample.

    With ``probabilities = (p_text, p_both, p_image)`` and ``r ~ U(0, 1)``:
    ``r < p_text`` drops the caption only; the next ``p_both`` drops the caption
    and the image conditions (glyph and mask channels); the next ``p_image``
    drops the image conditions only. Glyph tokens are never dropped.

    Parameters
    ----------
    n : int
    probabilities : tuple of 3 floats
    rng : numpy.random.RandomState

    Returns
    -------
    drop_caption, drop_image : ndarray of bool, shape (n,)
    """
    p_text, p_both, p_image = probabilities
    r = rng.uniform(size=n)
    drop_caption = r < p_text + p_both
    drop_image = (r >= p_text) & (r < p_text + p_both + p_image)
    return drop_caption, drop_image


def box_weighted_loss(predicted, target, mask, text_weight):
    """Mean squared error weighted ``text_weight`` inside the text box, 1 outside.

    Parameters
    ----------
    predicted, target : torch.Tensor of shape (n, C, H, W)
    mask : torch.Tensor of shape (n, 1, H, W)
        1 inside the box, 0 outside.
    text_weight : float
        GlyphDraw uses 1.6.

    Returns
    -------
    loss : torch.Tensor (scalar)
    """
    weight = 1.0 + (text_weight - 1.0) * mask
    return (weight * (predicted - target) ** 2).mean()


@torch.no_grad()
def in_box_error(predicted, target, mask):
    """Mean squared error inside the text boxes only (NaN without any box): the
    part of the denoising loss that draws the glyphs, for learning curves."""
    inside = mask.expand_as(predicted)
    return (((predicted - target) ** 2 * inside).sum() / inside.sum()).item()


@torch.no_grad()
def ddim_sample(
    denoise,
    noise,
    num_inference_steps,
    prediction_type,
    stop_at=None,
    eta=0.0,
    generator=None,
):
    """DDIM sampling from the given initial noise.

    ``eta = 0`` is the deterministic DDIM sampler; ``eta = 1`` adds fresh noise
    at every step with the variance of DDPM's ancestral sampler (Song et al.,
    2021, Eq. 16).

    Parameters
    ----------
    denoise : callable (x_t, t) -> guided UNet output
    noise : torch.Tensor
        The initial ``x_T`` (seeded by the caller).
    num_inference_steps : int
    prediction_type : {"v_prediction", "epsilon"}
        What ``denoise`` returns.
    stop_at : int or None, default=None
        Stop before this step and return ``(x_t, t)`` (the mask predictor reads
        the UNet there); None runs to the end.
    eta : float in [0, 1], default=0.0
        Share of DDPM's per-step noise.
    generator : torch.Generator or None, default=None
        Draws that noise (on the generator's device, so a CPU generator gives
        the same images on every device).

    Returns
    -------
    images : torch.Tensor in [-1, 1], or ``(x_t, t)`` when ``stop_at`` is set
    """
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(
        **SCHEDULE,
        prediction_type=prediction_type,
        clip_sample=True,
        set_alpha_to_one=True,
    )
    scheduler.set_timesteps(num_inference_steps)
    x = noise
    for i, t in enumerate(scheduler.timesteps):
        if i == stop_at:
            return x, t
        step = scheduler.step(denoise(x, t), t, x, eta=eta, generator=generator)
        x = step.prev_sample
    return x.clamp(-1, 1)


def dual_guidance(eps_full, eps_image, eps_uncond, guidance_text, guidance_image):
    """GlyphDraw's dual classifier-free guidance.

    ``eps = eps_uncond + s_T (eps_full - eps_image) + s_I (eps_image - eps_uncond)``
    where ``eps_full`` sees caption, glyph tokens and image channels,
    ``eps_image`` the null caption with the image channels and ``eps_uncond``
    the null caption with zeroed channels.
    """
    return (
        eps_uncond
        + guidance_text * (eps_full - eps_image)
        + guidance_image * (eps_image - eps_uncond)
    )


def to_uint8(images):
    """(n, 3, H, W) in [-1, 1] -> (n, H, W, 3) uint8."""
    array = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1)
    return np.ascontiguousarray(array.cpu().numpy())
