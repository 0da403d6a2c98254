"""Inference shortcuts of the tagger modules equal the training computation."""

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sklearn_suite.ner._modules import (
    CharEncoder,
    MulcoNet,
    dense_bilstm,
    reverse_within,
)


def test_reverse_within_keeps_padding_in_place():
    x = torch.arange(8).view(2, 4)
    out = reverse_within(x, torch.tensor([4, 2]))
    assert out.tolist() == [[3, 2, 1, 0], [5, 4, 6, 7]]
    assert torch.equal(reverse_within(out, torch.tensor([4, 2])), x)


def test_dense_bilstm_equals_packed_lstm_at_real_positions():
    torch.manual_seed(0)
    rnn = nn.LSTM(6, 5, 3, batch_first=True, bidirectional=True).eval()
    x = torch.randn(4, 9, 6)
    lengths = torch.tensor([9, 1, 5, 7])
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    expected, _ = pad_packed_sequence(rnn(packed)[0], batch_first=True)
    got = dense_bilstm(rnn, x, lengths)
    real = torch.arange(9)[None] < lengths[:, None]
    torch.testing.assert_close(got[real], expected[real])


def test_dense_bilstm_runs_a_float32_input_under_bfloat16_autocast():
    # bfloat16 prediction feeds float32 embeddings to the LSTM inside autocast;
    # oneDNN raises on that on CPUs without native bfloat16 unless the input is
    # cast first
    torch.manual_seed(0)
    rnn = nn.LSTM(32, 32, 2, batch_first=True, bidirectional=True).eval()
    x = torch.randn(8, 49, 32)
    lengths = torch.tensor([17, 19, 19, 21, 31, 34, 38, 49])
    with torch.no_grad():
        exact = dense_bilstm(rnn, x, lengths)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            half = dense_bilstm(rnn, x, lengths)
    assert half.dtype == torch.bfloat16
    torch.testing.assert_close(half.float(), exact, atol=0.05, rtol=0)


def test_mulco_labels_equal_the_argmax_of_the_training_outputs():
    torch.manual_seed(0)
    encoder = CharEncoder(30, emb_dim=8, hidden=8, layers=2)
    net = MulcoNet(encoder, 4, 6, 8, "BEC").eval()
    ids = torch.randint(2, 30, (3, 7))
    lengths = torch.tensor([7, 3, 5])
    ids[torch.arange(7)[None] >= lengths[:, None]] = 0
    with torch.no_grad():
        outputs, labels = net(ids, lengths), net.labels(ids, lengths)
    assert outputs.keys() == labels.keys()
    seen = set()
    for name, (cat_logits, len_logits) in outputs.items():
        cat, length, conf = labels[name]
        cat_conf, expected_cat = cat_logits.softmax(-1).max(-1)
        len_conf, expected_length = len_logits.softmax(-1).max(-1)
        anchor = expected_cat != 0
        assert torch.equal(cat, expected_cat)
        assert torch.equal(length, expected_length * anchor)
        torch.testing.assert_close(conf[anchor], (cat_conf * len_conf)[anchor])
        seen.update(anchor.flatten().tolist())
    assert seen == {True, False}  # anchors and O positions both exercised
