"""An independent recogniser that reads the characters drawn inside a box."""

import numpy as np
import torch
import torch.nn.functional as F

from sklearn_suite.base import fit_net, make_net, torch_seeded
from sklearn_suite.datasets._glyph_scenes import box_crop, make_glyph_scenes
from sklearn_suite.generate._modules import CellClassifier

CELL = 16


def box_cells(images, boxes, lengths):
    """Crop every character cell of every box and resize it to 16 x 16.

    A box holding ``n`` characters is cut into ``n`` equal cells along its long
    side (the layout rule text is drawn with).

    Parameters
    ----------
    images : ndarray of shape (n, H, W, 3), uint8
    boxes : sequence of (x0, y0, x1, y1) in [0, 1]
    lengths : sequence of int

    Returns
    -------
    cells : torch.Tensor of shape (sum(lengths), 3, 16, 16), float in [-1, 1]
    """
    cells = []
    for image, box, n in zip(images, boxes, lengths, strict=True):
        if n == 0:
            continue
        crop, horizontal = box_crop(image, box)
        crop = torch.as_tensor(crop).permute(2, 0, 1).float() / 127.5 - 1
        parts = torch.tensor_split(crop, n, dim=2 if horizontal else 1)
        for part in parts:
            if part.shape[1] == 0 or part.shape[2] == 0:
                part = torch.zeros(3, 1, 1)
            cells.append(
                F.interpolate(
                    part[None], size=(CELL, CELL), mode="bilinear", antialias=True
                )[0]
            )
    if not cells:
        return torch.zeros(0, 3, CELL, CELL)
    return torch.stack(cells)


class AugmentedCells:
    """Collate function: stacks (cell, label) pairs and augments the cells with
    colour, blur, noise and geometric jitter (kornia), afresh every batch."""

    def __init__(self):
        import kornia.augmentation as K

        self.augment = K.AugmentationSequential(
            K.RandomAffine(degrees=5, translate=(0.1, 0.1), scale=(0.85, 1.15), p=0.9),
            K.ColorJitter(0.3, 0.3, 0.3, 0.1, p=0.8),
            K.RandomGaussianBlur((3, 3), (0.1, 1.2), p=0.5),
            K.RandomGaussianNoise(std=0.1, p=0.5),
        )

    def __call__(self, items):
        cells = torch.stack([torch.as_tensor(x) for x, _ in items])
        labels = torch.as_tensor(np.array([y for _, y in items]))
        # kornia's colour ops expect [0, 1]
        return self.augment((cells + 1) / 2).clamp(0, 1) * 2 - 1, labels


class GlyphRecognizer:
    """OCR for scored generations: a CNN trained on freshly rendered characters.

    It never sees the generator's glyph encoder or training images: it trains on
    its own scenes (seeded apart from the caller's) with colour, blur, noise and
    geometric augmentation (kornia), and reads a box cell by cell.

    Parameters
    ----------
    alphabet : str or None, default=None
        Characters it can read (None: set by the generator that fits it).
    image_size : int or None, default=None
    font_path : str or None, default=None
    n_scenes : int, default=4000
        Rendered training scenes (each with 1-2 characters).
    max_epochs : int, default=6
    callbacks : list of skorch callbacks, default=None
        Extra callbacks of the training net.
    random_state : int, default=0
    device : str, default="cpu"

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained cell classifier; ``model_`` is its module.
    history_ : skorch.History
    clean_accuracy_ : float
        Accuracy on 500 freshly rendered held-out scenes' cells.
    """

    def __init__(
        self,
        *,
        alphabet=None,
        image_size=None,
        font_path=None,
        n_scenes=4000,
        max_epochs=6,
        callbacks=None,
        random_state=0,
        device="cpu",
    ):
        self.alphabet = alphabet
        self.image_size = image_size
        self.font_path = font_path
        self.n_scenes = n_scenes
        self.max_epochs = max_epochs
        self.callbacks = callbacks
        self.random_state = random_state
        self.device = device

    def _scene_cells(self, n, seed):
        scenes = make_glyph_scenes(
            n,
            image_size=self.image_size,
            text_fraction=1.0,
            alphabet=self.alphabet,
            font_path=self.font_path,
            random_state=seed,
        )
        images = np.stack(scenes["image"].to_numpy())
        cells = box_cells(images, scenes["box"], scenes["text"].str.len())
        index = {ch: i for i, ch in enumerate(self.alphabet)}
        labels = torch.tensor([index[ch] for text in scenes["text"] for ch in text])
        return cells, labels

    def fit(self):
        cells, labels = self._scene_cells(self.n_scenes, self.random_state + 1)
        with torch_seeded(self.random_state, self.device):
            self.net_ = self._new_net()
            fit_net(self.net_, cells.numpy(), labels.numpy())
        self.model_ = self.net_.module_.eval()
        self.history_ = self.net_.history
        held_cells, held_labels = self._scene_cells(500, self.random_state + 2)
        self.clean_accuracy_ = float(
            (self._classify(held_cells) == held_labels).float().mean()
        )
        return self

    def _new_net(self):
        return make_net(
            CellClassifier,
            module_params={"n_classes": len(self.alphabet)},
            stage="glyph recogniser",
            seed=self.random_state,
            device=self.device,
            lr=2e-3,
            max_epochs=self.max_epochs,
            batch_size=128,
            criterion=torch.nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            collate=AugmentedCells(),
            callbacks=self.callbacks,
        )

    def _rebuild_modules(self):
        """For loading a saved generator: the classifier, weights to be loaded."""
        self.net_ = self._new_net()
        self.net_.initialize()
        self.model_ = self.net_.module_.eval()

    @torch.no_grad()
    def _classify(self, cells):
        self.model_.eval()
        logits = [self.model_(c.to(self.device)).cpu() for c in cells.split(512)]
        return (
            torch.cat(logits).argmax(1) if logits else torch.zeros(0, dtype=torch.long)
        )

    def read(self, images, boxes, lengths):
        """Read ``lengths[i]`` characters inside ``boxes[i]`` of ``images[i]``.

        Parameters
        ----------
        images : ndarray of shape (n, H, W, 3), uint8
        boxes : sequence of (x0, y0, x1, y1) or None
        lengths : sequence of int

        Returns
        -------
        texts : list of str
        """
        lengths = [
            int(n) if box is not None else 0
            for n, box in zip(lengths, boxes, strict=True)
        ]
        predicted = self._classify(box_cells(images, boxes, lengths)).tolist()
        texts, start = [], 0
        for n in lengths:
            texts.append(
                "".join(self.alphabet[i] for i in predicted[start : start + n])
            )
            start += n
        return texts
