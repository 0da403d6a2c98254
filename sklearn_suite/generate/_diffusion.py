"""Training and sampling pieces of GlyphDraw: noise schedule, condition dropout,
box-weighted loss, DDIM sampling with (dual) classifier-free guidance."""

import numpy as np
import torch

# Pixel-space DDPM schedule (Ho et al.): SD's scaled-linear 0.00085-0.012 schedule is
# tuned for latents and leaves too much signal at t = T for pixels.
SCHEDULE = {
    "num_train_timesteps": 1000,
    "beta_schedule": "linear",
    "beta_start": 1e-4,
    "beta_end": 0.02,
    "prediction_type": "epsilon",
}


def training_scheduler():
    from diffusers import DDPMScheduler

    return DDPMScheduler(**SCHEDULE, clip_sample=True)


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
def ddim_sample(denoise, shape, num_inference_steps, generator, device="cpu"):
    """Deterministic DDIM sampling (eta = 0) from seeded Gaussian noise.

    Parameters
    ----------
    denoise : callable (x_t, t) -> guided epsilon
    shape : tuple
    num_inference_steps : int
    generator : torch.Generator
        Draws the initial noise (on the CPU, so a seed gives the same images on
        every device).
    device : str

    Returns
    -------
    images : torch.Tensor of shape ``shape`` in [-1, 1]
    """
    from diffusers import DDIMScheduler

    scheduler = DDIMScheduler(**SCHEDULE, clip_sample=True, set_alpha_to_one=True)
    scheduler.set_timesteps(num_inference_steps)
    x = torch.randn(shape, generator=generator).to(device)
    for t in scheduler.timesteps:
        x = scheduler.step(denoise(x, t), t, x, eta=0.0).prev_sample
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
