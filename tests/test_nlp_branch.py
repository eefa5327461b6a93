"""The fine-tuned sentiment branch: shapes, one forward pass for embedding and branch, save/load without
pickle, fine-tuning on a tiny corpus with resume, scoring that never trains, and a clear error for a missing
branch. A tiny random BERT stands in for multilingual-e5-small, so nothing here needs the bundled model or
the public data."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from transformers import BertConfig, BertModel  # noqa: E402

from listener.nlp.branch import BRANCH_CARD, BRANCH_WEIGHTS, Branch, BranchMissing, build_module, init_from_base, \
    load_branch  # noqa: E402
from listener.nlp.data import Example  # noqa: E402
from listener.nlp.encoder import Encoder, EncoderInfo  # noqa: E402

WORDS = ["<s>", "<pad>", "</s>", "query:", "good", "great", "love", "bad", "awful", "hate", "the", "app", "is",
         "today", "news", "report", "was", "it"]


class WordTokenizer:
    """Whitespace words -> ids of WORDS (unknown words -> 'the'): enough for a tiny test model."""

    pad_id, bos_id, eos_id = 1, 0, 2

    def content_ids(self, texts):
        return [[WORDS.index(w) if w in WORDS else WORDS.index("the") for w in t.lower().split()] for t in texts]

    def __call__(self, texts):
        return [[self.bos_id, *ids, self.eos_id] for ids in self.content_ids(texts)]


def tiny_encoder(layers: int = 3, max_tokens: int = 16) -> Encoder:
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(WORDS), hidden_size=32, num_hidden_layers=layers, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, pad_token_id=1,
                        attn_implementation="sdpa")
    model = BertModel(config, add_pooling_layer=False).eval()
    return Encoder(model, WordTokenizer(), EncoderInfo("tiny-test", "query: ", max_tokens, 32, "fp32", source="t"))


def corpus(n: int = 60, seed: int = 0) -> list[Example]:
    rng = np.random.default_rng(seed)
    words = {"negative": ["bad", "awful", "hate"], "neutral": ["news", "report", "today"],
             "positive": ["good", "great", "love"]}
    out = []
    for i in range(n):
        label = ("negative", "neutral", "positive")[i % 3]
        text = f"the app {rng.choice(words[label])} {rng.choice(['is', 'was', 'it'])} {rng.choice(words[label])}"
        out.append(Example(text, label, "en", set=("a", "b")[i % 2]))
    return out


def test_a_branch_started_from_the_base_top_layers_reproduces_the_embedding():
    encoder = tiny_encoder()
    module = build_module(encoder.model.config, 2)
    init_from_base(module, encoder.model, 1)
    branch = Branch(module, start=1)
    texts = ["the app is good", "awful news today it was", "love"]
    x, side = encoder.embed_with_branch(texts, branch)
    assert x.shape == (3, 32) and side.shape == (3, 32)
    assert np.allclose(x, encoder.embed(texts), atol=1e-6)  # the same embedding as without a branch
    # identical layers on the states of layer 1 give the base's own last layer: the branch saw the right input
    norms = side / np.linalg.norm(side, axis=1, keepdims=True)
    assert np.allclose(norms, x, atol=1e-5)
    probs = branch.predict_proba(side)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1.0)


def test_long_texts_average_the_branch_over_windows():
    encoder = tiny_encoder(max_tokens=6)  # 4 content tokens a window
    module = build_module(encoder.model.config, 1)
    init_from_base(module, encoder.model, 2)
    branch = Branch(module, start=2)
    x, side = encoder.embed_with_branch(["the app is good and awful news today"], branch)
    assert side.shape == (1, 32) and np.isfinite(side).all()


def test_branch_round_trips_as_packed_differences_from_the_base(tmp_path):
    encoder = tiny_encoder()
    module = build_module(encoder.model.config, 1)
    init_from_base(module, encoder.model, 2)
    torch.manual_seed(1)
    torch.nn.init.normal_(module.classifier.weight, std=0.5)
    with torch.no_grad():  # what fine-tuning does: small moves of every weight
        for p in module.layers.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    branch = Branch(module, start=2, temperature=1.7, card={"note": "test", "mix": 0.6})
    branch.save(tmp_path, encoder.model)
    from safetensors import safe_open

    with safe_open(str(tmp_path / BRANCH_WEIGHTS), framework="pt") as f:  # plain tensors, no pickle
        names = set(f.keys())
        codes = f.get_tensor("layers.0.attention.self.query.weight.delta4")
    assert codes.dtype == torch.uint8 and codes.numel() == 32 * 32 // 2  # two 4-bit values a byte
    assert "layers.0.attention.self.query.weight" not in names and "classifier.weight" in names
    assert not any(k.startswith("layers.1.") for k in names)
    card = json.loads((tmp_path / BRANCH_CARD).read_text())
    assert card["storage"] == "delta-int4"
    loaded = load_branch(tmp_path, encoder.model.config, base_model=encoder.model)
    assert (loaded.k, loaded.start, loaded.temperature, loaded.mix) == (1, 2, 1.7, 0.6)
    for name, t in module.state_dict().items():  # each matrix within its 4-bit rounding of the moves
        assert torch.allclose(loaded.module.state_dict()[name], t, atol=0.01 * 4 / 7 + 0.004), name
    hidden = torch.randn(3, 5, 32)
    mask = torch.ones(3, 5, dtype=torch.long)
    with torch.inference_mode():
        assert torch.allclose(loaded.module(hidden, mask), module.eval()(hidden, mask), atol=0.05)
    with pytest.raises(ValueError, match="encoder it was trained on"):
        load_branch(tmp_path, encoder.model.config)


def test_an_int8_encoder_rebuilds_its_branch_from_the_fp32_file(tmp_path):
    # an int8 encoder's packed Linear weights cannot be read as the base; the fp32 safetensors file can
    from safetensors.torch import save_file

    encoder = tiny_encoder()
    module = build_module(encoder.model.config, 1)
    init_from_base(module, encoder.model, 2)
    with torch.no_grad():
        for p in module.layers.parameters():
            p.add_(torch.randn_like(p) * 0.01)
    Branch(module, start=2, temperature=1.0, card={}).save(tmp_path, encoder.model)
    weights = tmp_path / "base.safetensors"
    save_file({k: v.contiguous() for k, v in encoder.model.state_dict().items()}, str(weights))
    from_module = load_branch(tmp_path, encoder.model.config, base_model=encoder.model)
    from_file = load_branch(tmp_path, encoder.model.config, base_model=weights)
    for name, t in from_module.module.state_dict().items():
        assert torch.equal(from_file.module.state_dict()[name], t), name


def test_a_branch_of_the_older_all_bf16_storage_still_loads(tmp_path):
    from safetensors.torch import save_file

    encoder = tiny_encoder()
    module = build_module(encoder.model.config, 1)
    save_file({k: v.to(torch.bfloat16).contiguous() for k, v in module.state_dict().items()},
              str(tmp_path / BRANCH_WEIGHTS))
    (tmp_path / BRANCH_CARD).write_text(json.dumps({"k": 1, "start": 2, "temperature": 1.2, "dtype": "bf16"}))
    loaded = load_branch(tmp_path, encoder.model.config, base_model=encoder.model)
    assert loaded.k == 1 and loaded.temperature == 1.2
    assert torch.allclose(loaded.module.classifier.weight, module.classifier.weight, atol=0.01)


def test_packed_differences_round_to_within_a_fourteenth_of_their_group():
    from listener.nlp.branch import DELTA_GROUP, pack_delta, unpack_delta

    rng = np.random.default_rng(3)
    delta = rng.normal(scale=1e-3, size=(7, 50)).astype(np.float32)  # 350 values: the last group is padded
    delta.reshape(-1)[:DELTA_GROUP] = 0.0  # an all-zero group stays zero
    codes, scales = pack_delta(delta)
    assert codes.dtype == np.uint8 and len(codes) == 6 * DELTA_GROUP // 2 and len(scales) == 6
    back = unpack_delta(codes, scales, delta.shape)
    assert back.shape == delta.shape and np.all(back.ravel()[:DELTA_GROUP] == 0)
    groups = np.pad(delta.ravel(), (0, -delta.size % DELTA_GROUP)).reshape(-1, DELTA_GROUP)
    bound = np.repeat(np.abs(groups).max(1) / 14, DELTA_GROUP)[:delta.size] + 1e-9
    assert np.all(np.abs(back.ravel() - delta.ravel()) <= bound)
    assert np.abs(back - delta).max() > 0  # it is a rounding, not a copy


def test_a_declared_branch_without_weights_is_a_clear_error(tmp_path):
    encoder = tiny_encoder()
    (tmp_path / BRANCH_CARD).write_text(json.dumps({"k": 1, "start": 2}))
    with pytest.raises(BranchMissing, match="listener model train"):
        load_branch(tmp_path, encoder.model.config)
    assert load_branch(tmp_path / "elsewhere", encoder.model.config) is None  # no branch: the plain head


def test_finetuning_learns_a_toy_task_and_leaves_the_base_alone(tmp_path, monkeypatch):
    from listener.nlp.finetune import FinetuneOptions, finetune

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    encoder = tiny_encoder()
    before = {k: v.clone() for k, v in encoder.model.state_dict().items()}
    opts = FinetuneOptions(k=1, batch_size=8, lr=1e-3, head_lr=1e-2, eval_every=10, patience=50, dev_per_set=50,
                           max_steps=60)
    branch, info = finetune(encoder, encoder.model, corpus(90), corpus(30, seed=1), opts, work_dir=tmp_path / "w")
    assert info["k"] == 1 and info["start"] == 2 and info["steps"] == 60
    assert info["best_dev"] >= 0.9  # chance is 1/3: the toy labels are in the words
    assert all(torch.equal(v, encoder.model.state_dict()[k]) for k, v in before.items())
    texts = ["the app is great", "awful app", "news report today"]
    _, side = encoder.embed_with_branch(texts, branch)
    assert branch.predict_proba(side).argmax(1).tolist() == [2, 0, 1]
    assert (tmp_path / "cache" / "hidden").is_dir()  # the start-layer states went to the cache, not to git


def toy_branch(encoder, work_dir):
    """A k = 1 branch fine-tuned on the toy corpus until it knows it (the words give the labels)."""
    from listener.nlp.finetune import FinetuneOptions, finetune

    return finetune(encoder, encoder.model, corpus(90), corpus(30, seed=1),
                    FinetuneOptions(k=1, batch_size=8, lr=1e-3, head_lr=1e-2, eval_every=10, patience=50,
                                    dev_per_set=50, max_steps=60), work_dir=work_dir)


def test_finetuning_can_continue_from_a_saved_branch(tmp_path, monkeypatch):
    from listener.nlp.corpus import TrainingDataError
    from listener.nlp.finetune import FinetuneOptions, finetune

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    encoder = tiny_encoder()
    trained, _ = toy_branch(encoder, tmp_path / "w1")
    trained.save(tmp_path / "first", encoder.model)
    # a near-zero learning rate: what the continued run starts from is all it can have
    still = FinetuneOptions(k=1, batch_size=8, lr=1e-9, head_lr=1e-9, eval_every=2, patience=50, dev_per_set=50,
                            max_steps=2, init=str(tmp_path / "first"))
    _, info = finetune(encoder, encoder.model, corpus(90), corpus(30, seed=1), still, work_dir=tmp_path / "w2")
    assert info["best_dev"] >= 0.9  # a branch started from the base layers and a fresh classifier is at chance
    _, fresh = finetune(encoder, encoder.model, corpus(90), corpus(30, seed=1),
                        FinetuneOptions(**{**still.__dict__, "init": None}), work_dir=tmp_path / "w3")
    assert fresh["best_dev"] < 0.8
    with pytest.raises(TrainingDataError, match="no branch with 2 layer"):
        finetune(encoder, encoder.model, corpus(90), corpus(30, seed=1),
                 FinetuneOptions(**{**still.__dict__, "k": 2}), work_dir=tmp_path / "w4")


def test_the_mix_with_the_head_is_chosen_on_held_out_train_lines(tmp_path, monkeypatch):
    from listener.nlp.finetune import choose_mix
    from listener.nlp.heads import Heads, SentimentHead, TopicHead

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    encoder = tiny_encoder()
    branch, _ = toy_branch(encoder, tmp_path / "w")
    assert branch.mix == 1.0  # no mix chosen yet: the branch alone
    rng = np.random.default_rng(0)
    topics = TopicHead(["t"], rng.normal(size=(1, 32)).astype(np.float32), np.zeros(1, np.float32),
                       np.array([0.5], np.float32))
    # a head that always says negative: mixing it in only costs
    Heads(SentimentHead(np.zeros((3, 32), np.float32), np.array([5.0, 0, 0], np.float32)), topics).save(tmp_path / "h")
    held_out = corpus(30, seed=2)
    mix, info = choose_mix(branch, encoder, tmp_path / "h", held_out)
    assert mix == 1.0 and info["tuning_lines"] == 30
    assert info["log_loss"]["1.0"] < info["log_loss"]["0.5"] < info["log_loss"]["0.0"]
    # a branch that has learned nothing (the classifier zeroed: a third each) against a head that knows the
    # toy task (the tiny encoder's embeddings of the three kinds of words, by a least-squares fit)
    texts = [e.text for e in corpus(90)]
    y = np.array([e.sentiment_index for e in corpus(90)])
    emb = encoder.embed(texts)
    coef = np.linalg.lstsq(np.c_[emb, np.ones(len(emb))], np.eye(3)[y] * 20 - 10, rcond=None)[0]
    Heads(SentimentHead(coef[:-1].T.astype(np.float32), coef[-1].astype(np.float32)), topics).save(tmp_path / "g")
    with torch.no_grad():
        branch.module.classifier.weight.zero_()
        branch.module.classifier.bias.zero_()
    mix, info = choose_mix(branch, encoder, tmp_path / "g", held_out)
    assert mix < 0.5, info


def test_early_stopping_waits_for_the_second_half_of_the_schedule(tmp_path, monkeypatch):
    from listener.nlp.finetune import FinetuneOptions, finetune

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    encoder = tiny_encoder()
    # a learning rate too small to move the dev score: every evaluation after the first is without a gain
    still = FinetuneOptions(k=1, batch_size=8, lr=1e-12, head_lr=1e-12, eval_every=2, patience=1, dev_per_set=20,
                            max_steps=20)
    _, info = finetune(encoder, encoder.model, corpus(60), corpus(30, seed=1), still, work_dir=tmp_path / "w")
    assert info["early_stopped"]
    # the first evaluation without a gain in the second half (steps 10..20) stops it, none before
    assert info["steps"] == 10, [h["step"] for h in info["history"]]
    assert [h["step"] for h in info["history"]] == [2, 4, 6, 8, 10]


def test_layer_decay_slows_the_lower_layers(tmp_path, monkeypatch):
    from listener.nlp.finetune import FinetuneOptions, finetune

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    encoder = tiny_encoder()
    # a decay of 0: the layer below the top does not learn at all, the top one does
    opts = FinetuneOptions(k=2, batch_size=8, lr=1e-3, head_lr=1e-2, eval_every=10, patience=50, dev_per_set=20,
                           max_steps=10, layer_decay=0.0)
    branch, _ = finetune(encoder, encoder.model, corpus(60), corpus(30, seed=1), opts, work_dir=tmp_path / "w")
    base = encoder.model.encoder.layer
    low, top = branch.module.layers
    assert all(torch.equal(v, base[1].state_dict()[k]) for k, v in low.state_dict().items())
    assert not all(torch.equal(v, base[2].state_dict()[k]) for k, v in top.state_dict().items())


def test_weight_averaging_keeps_the_mean_of_the_late_states_or_the_best_one(tmp_path, monkeypatch):
    from listener.nlp.finetune import FinetuneOptions, finetune

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    encoder = tiny_encoder()
    work = tmp_path / "w"
    late: list[dict] = []

    def keep_late_states(r):
        if r["stage"] == "evaluated" and r["step"] >= 10:  # the checkpoint holds the state just evaluated
            late.append(torch.load(work / "checkpoint.pt", weights_only=True))

    opts = FinetuneOptions(k=1, batch_size=8, lr=1e-3, head_lr=1e-2, eval_every=2, patience=50, dev_per_set=20,
                           max_steps=20, average_from=0.5)
    branch, info = finetune(encoder, encoder.model, corpus(60), corpus(30, seed=1), opts, report=keep_late_states,
                            work_dir=work)
    assert len(late) == 6 and info["history"][-1]["averaged_states"] == 6
    mean = {k: torch.stack([c["module"][k].float() for c in late]).mean(0) for k in late[0]["module"]}
    kept = branch.module.state_dict()
    if info["kept"].startswith("the average"):
        assert all(torch.allclose(kept[k], mean[k], atol=1e-6) for k in mean)
        assert info["best_dev"] == info["history"][-1]["dev"]
    else:
        assert all(torch.equal(kept[k], late[-1]["best_state"][k]) for k in mean)
        assert info["history"][-1]["dev"] < info["best_dev"]
    # the average differs from every single state it was made of
    assert not any(all(torch.allclose(c["module"][k].float(), mean[k]) for k in mean) for c in late)


def test_set_weights_decide_which_set_the_finetuning_learns_from(tmp_path, monkeypatch):
    from dataclasses import replace

    from listener.nlp.corpus import TrainingDataError
    from listener.nlp.finetune import FinetuneOptions, finetune

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    encoder = tiny_encoder()
    flip = {"negative": "positive", "positive": "negative", "neutral": "neutral"}
    # set b says the opposite of set a about the same words; the dev part is set a's
    train = [e if e.set == "a" else replace(e, label=flip[e.label]) for e in corpus(90)]
    dev = [e for e in corpus(30, seed=1) if e.set == "a"]
    opts = FinetuneOptions(k=1, batch_size=8, lr=1e-3, head_lr=1e-2, eval_every=10, patience=50, dev_per_set=50,
                           max_steps=60)
    _, only_a = finetune(encoder, encoder.model, train, dev, replace(opts, set_weights={"b": 0.0}),
                         work_dir=tmp_path / "w1")
    _, only_b = finetune(encoder, encoder.model, train, dev, replace(opts, set_weights={"a": 0.0}),
                         work_dir=tmp_path / "w2")
    assert only_a["best_dev"] >= 0.9 and only_b["history"][-1]["dev"] < 0.5, (only_a["best_dev"], only_b["history"])
    with pytest.raises(TrainingDataError, match="--weight names set"):
        finetune(encoder, encoder.model, train, dev, replace(opts, set_weights={"c": 2.0}), work_dir=tmp_path / "w3")


def test_an_interrupted_finetuning_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    from listener.nlp.finetune import FinetuneOptions, finetune

    monkeypatch.setenv("LISTENER_CACHE", str(tmp_path / "cache"))
    opts = FinetuneOptions(k=1, batch_size=8, eval_every=4, patience=50, dev_per_set=20, max_steps=12)
    seen: list[dict] = []

    class Interrupted(Exception):
        pass

    def stop_after_first_checkpoint(r):
        seen.append(r)
        if r["stage"] == "evaluated" and r["step"] == 8:
            raise Interrupted

    with pytest.raises(Interrupted):
        finetune(tiny_encoder(), tiny_encoder().model, corpus(60), corpus(30, 1), opts,
                 report=stop_after_first_checkpoint, work_dir=tmp_path / "w")
    assert (tmp_path / "w" / "checkpoint.pt").exists()
    again: list[dict] = []
    _, info = finetune(tiny_encoder(), tiny_encoder().model, corpus(60), corpus(30, 1), opts,
                       report=again.append, work_dir=tmp_path / "w")
    assert [r["step"] for r in again if r["stage"] == "resumed"] == [8]
    assert [r["step"] for r in again if r["stage"] == "evaluated"] == [12]  # only the steps left were run
    assert info["steps"] == 12 and [h["step"] for h in info["history"]] == [4, 8, 12]


def test_scoring_with_a_branch_never_trains(tmp_path):
    from listener.nlp.heads import Heads, SentimentHead, TopicHead
    from listener.nlp.scorer import TransformerScorer

    encoder = tiny_encoder()
    module = build_module(encoder.model.config, 1)
    init_from_base(module, encoder.model, 2)
    branch = Branch(module, start=2)
    weights = {k: v.clone() for k, v in module.state_dict().items()}
    rng = np.random.default_rng(0)
    heads = Heads(SentimentHead(np.zeros((3, 32), np.float32), np.array([5.0, 0, 0], np.float32)),
                  TopicHead(["t"], rng.normal(size=(1, 32)).astype(np.float32), np.zeros(1, np.float32),
                            np.array([0.5], np.float32)))
    heads.branch = branch
    scorer = TransformerScorer(encoder, heads)
    preds = scorer.predict(["the app is good", "awful"])
    _, side = encoder.embed_with_branch(["the app is good", "awful"], branch)
    # the sentiment is the branch's (the plain head here would say negative every time)
    assert np.allclose([p.probabilities for p in preds], branch.predict_proba(side), atol=1e-5)
    assert all(torch.equal(v, module.state_dict()[k]) for k, v in weights.items())
    assert not module.training
    branch.mix = 0.5  # half branch, half the head on the embedding
    x = encoder.embed(["the app is good", "awful"])
    mixed = [p.probabilities for p in scorer.predict(["the app is good", "awful"])]
    assert np.allclose(mixed, 0.5 * branch.predict_proba(side) + 0.5 * heads.sentiment.predict_proba(x), atol=1e-5)


def test_loading_a_scorer_does_not_import_training():
    code = ("import sys, listener.nlp, listener.nlp.scorer, listener.nlp.branch; "
            "print(sorted(m for m in sys.modules if m in ('listener.nlp.finetune', 'listener.nlp.train')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_binary_sets_are_learned_between_negative_and_positive_only():
    from listener.nlp.finetune import binary_lines, mask_neutral

    sets = ["sst2", "sst2", "tweets", "tweets", "tweets", "own"]
    y = np.array([0, 2, 0, 1, 2, 0])  # "own" has one line and no neutral: binary too, by its train part
    assert binary_lines(sets, y).tolist() == [True, True, False, False, False, True]
    logits = torch.tensor([[1.0, 3.0, 0.5], [1.0, 3.0, 0.5]])
    rows = np.array([True, False])
    loss = torch.nn.functional.cross_entropy(mask_neutral(logits, rows), torch.tensor([0, 0]), reduction="none")
    two_way = -torch.log_softmax(torch.tensor([1.0, 0.5]), 0)[0]
    assert torch.isclose(loss[0], two_way)  # the neutral logit, however high, costs a binary line nothing
    assert torch.isclose(loss[1], torch.nn.functional.cross_entropy(logits[1:], torch.tensor([0])))
    assert mask_neutral(logits, np.array([False, False])) is logits


def test_model_info_says_what_the_bundled_branch_is():
    from typer.testing import CliRunner

    from listener.cli import app
    from listener.nlp.heads import BUNDLED_HEADS

    card = json.loads((BUNDLED_HEADS / BRANCH_CARD).read_text())
    result = CliRunner().invoke(app, ["model", "info", "--json"])
    assert result.exit_code == 0, result.output
    said = json.loads(result.output)["sentiment"]
    layers = f"all {card['k']} layers" if card["start"] == 0 else f"the top {card['k']} layer(s)"
    assert said.startswith(f"fine-tuned branch: {layers}, {round(100 * card['mix'])} % of the probabilities")


def test_model_train_passes_the_finetuning_options_through(tmp_path, monkeypatch):
    """The CLI's fine-tuning flags reach FinetuneOptions (the run itself is replaced: it takes the real encoder
    and most of an hour; the options' effects are tested above)."""
    from typer.testing import CliRunner

    import listener.nlp.finetune as finetune_module
    from listener.cli import app

    seen = {}

    def fake_run(files, output, opts, **kwargs):
        seen.update(opts=opts, files=files, output=output, **kwargs)
        raise SystemExit(0)

    monkeypatch.setattr(finetune_module, "run_finetune", fake_run)
    result = CliRunner().invoke(app, ["model", "train", "--branch-only", "-o", str(tmp_path / "h"), "--layers", "6",
                                      "--epochs", "2", "--lr", "5e-5", "--layer-decay", "0.8", "--average-from", "0.6",
                                      "--binary-two-way", "--finetune-per-set", "500", "--weight", "snappfood=2"])
    assert result.exit_code == 0, result.output
    opts = seen["opts"]
    assert (opts.k, opts.epochs, opts.lr, opts.head_lr, opts.layer_decay, opts.average_from, opts.binary_two_way) \
        == (6, 2.0, 5e-5, 1e-3, 0.8, 0.6, True)
    assert opts.set_weights == {"snappfood": 2.0}
    assert seen["max_per_set"] == 500 and seen["output"] == tmp_path / "h"
