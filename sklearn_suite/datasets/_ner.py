"""Chinese sentences with nested entities: a generator and the ChiNesE reader."""

import json

from sklearn.utils import check_random_state

from sklearn_suite.datasets._files import malformed, read_text

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰"
_PROVINCES = ["浙江", "江苏", "广东", "四川", "湖南", "山东", "河北", "福建"]
_CITIES = [
    "杭州",
    "南京",
    "广州",
    "成都",
    "长沙",
    "济南",
    "石家庄",
    "福州",
    "宁波",
    "苏州",
]
_DISTRICTS = ["西湖", "鼓楼", "天河", "武侯", "岳麓", "历下", "长安", "台江"]
_ORG_KINDS = ["人民法院", "公安局", "人民医院", "第一中学", "大学", "图书馆", "税务局"]
_COMPANIES = ["华星", "东方", "远航", "长城", "明德", "新世纪"]
_WORK_KINDS = ["传", "回忆录", "日记", "诗集"]
_EVENTS = ["马拉松", "博览会", "艺术节", "运动会", "音乐节"]
_TEMPLATES = [
    "{PER}于{TIME}来到{ORG}工作。",
    "{TIME}，{ORG}在{LOC}举办了{EVENT}。",
    "记者从{ORG}获悉，{PER}将出席{EVENT}。",
    "{PER}的新书{WORK}由{ORG}出版。",
    "{LOC}的{PER}在{EVENT}上获得第一名。",
    "据{ORG}介绍，{TIME}共有三万人参加{EVENT}。",
    "{PER}和{PER}一起阅读了{WORK}。",
    "{TIME}，{PER}从{LOC}出发前往{ORG}。",
]


def _person(rng):
    name = rng.choice(list(_SURNAMES)) + "".join(
        rng.choice(list(_GIVEN), size=rng.randint(1, 3))
    )
    return name, []


def _location(rng):
    """province + city + district: each prefix is itself a Location."""
    parts = [
        rng.choice(_PROVINCES) + "省",
        rng.choice(_CITIES) + "市",
        rng.choice(_DISTRICTS) + "区",
    ][: rng.randint(1, 4)]
    text, inner, pos = "", [], 0
    for part in parts:
        text += part
        inner.append((0, pos + len(part), "Location"))
        pos += len(part)
    return text, inner[:-1]  # the full span is added by the caller


def _time(rng):
    year = f"{rng.randint(1990, 2025)}年"
    if rng.rand() < 0.5:
        return year, []
    text = year + f"{rng.randint(1, 13)}月"
    if rng.rand() < 0.5:
        text += f"{rng.randint(1, 29)}日"
    return text, [(0, len(year), "Time")]


def _organization(rng):
    if rng.rand() < 0.3:
        name = rng.choice(_COMPANIES) + "公司"
        return name, []
    loc, loc_inner = _location(rng)
    text = loc + rng.choice(_ORG_KINDS)
    return text, [*loc_inner, (0, len(loc), "Location")]


def _work(rng):
    person, _ = _person(rng)
    text = "《" + person + rng.choice(_WORK_KINDS) + "》"
    return text, [(1, 1 + len(person), "Person")]


def _event(rng):
    time, time_inner = _time(rng)
    loc, loc_inner = _location(rng)
    text = time + loc + rng.choice(_EVENTS)
    inner = [
        *time_inner,
        (0, len(time), "Time"),
        *[(s + len(time), e + len(time), c) for s, e, c in loc_inner],
        (len(time), len(time) + len(loc), "Location"),
    ]
    return text, inner


_MAKERS = {
    "PER": (_person, "Person"),
    "LOC": (_location, "Location"),
    "TIME": (_time, "Time"),
    "ORG": (_organization, "Organization"),
    "WORK": (_work, "Work"),
    "EVENT": (_event, "Event"),
}


def make_nested_ner(n_samples=500, *, random_state=None):
    """Chinese sentences with nested entities and their gold spans.

    Templates are filled with entities that nest: locations inside locations
    (province > city > district), locations inside organisations ("...市人民法院"),
    people inside works ("《...传》"), times and locations inside events
    ("2019年杭州市马拉松"), days inside months inside years.

    Parameters
    ----------
    n_samples : int, default=500
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : list of str
    y : list of list of (start, end, label)
        Slice offsets, sorted; labels among Person, Location, Organization, Time,
        Work and Event.
    """
    rng = check_random_state(random_state)
    X, y = [], []
    for _ in range(n_samples):
        template = _TEMPLATES[rng.randint(len(_TEMPLATES))]
        text, spans = "", set()
        rest = template
        while "{" in rest:
            before, rest = rest.split("{", 1)
            slot, rest = rest.split("}", 1)
            text += before
            maker, label = _MAKERS[slot]
            entity, inner = maker(rng)
            start = len(text)
            spans.add((start, start + len(entity), label))
            spans.update((start + s, start + e, c) for s, e, c in inner)
            text += entity
        text += rest
        X.append(text)
        y.append(sorted(spans))
    return X, y


def read_chinese_nested_ner(path):
    """Read the ChiNesE JSON-lines format.

    Each line is ``{"id", "text", "label": {category: {surface: [[start, end],
    ...]}}}`` with end-inclusive offsets; they become slice offsets. Offsets are
    trusted over the surface strings (which differ for under 1% of entities).

    Parameters
    ----------
    path : str or Path

    Returns
    -------
    X : list of str
    y : list of list of (start, end, label)

    Raises
    ------
    ValueError
        On malformed content (not JSON, missing keys, offsets outside the text or
        reversed, not UTF-8, empty), naming the file and the line.
    """
    X, y = [], []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            text = record["text"]
            spans = {
                (int(s), int(e) + 1, category)
                for category, surfaces in record.get("label", {}).items()
                for offsets in surfaces.values()
                for s, e in offsets
            }
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise malformed(path, n, f"not a ChiNesE record ({exc}).") from exc
        if not isinstance(text, str):
            raise malformed(path, n, f"text must be a str; got {type(text).__name__}.")
        for s, e, category in spans:
            if not 0 <= s < e <= len(text):
                raise malformed(
                    path, n, f"entity {category!r} at [{s}, {e - 1}] (end-inclusive) "
                    f"lies outside the {len(text)}-character text or is reversed."
                )  # fmt: skip
        X.append(text)
        y.append(sorted(spans))
    return X, y
