"""R5's rule memory: length-2 Horn rules ``head(x, y) <- body1(x, z), body2(z, y)``
over relation ids, with scores, invented predicates, decay, deletion and
backtrack rewriting.

Ids: 0 = unknown/padding, ``1..n_observed`` = observed relations,
``n_observed + 1 .. width - 1`` = invented predicates.
"""

import copy

# score increments of the rules used in one episode
GROUND = 0.6  # body and head observed
HEAD_OBSERVED = 0.3  # head observed, body uses an invented predicate
NEW_CANDIDATE = -0.05  # created in this episode, observed body, invented head
INVENTED = -0.1  # already stored, invented head
OTHER = -0.3
CORRECT_BONUS = 0.1  # v_T_pos: the official code uses 0.3-0.8 on GraphLog
SINGLE_STEP_BONUS = 10.0
WRONG = -1.0
DECAY = 0.003
DELETE_BELOW = -1.2


class RuleMemory:
    """Stored rules ``(body1, body2) -> [head, score]``."""

    def __init__(self, n_observed, width, correct_bonus=CORRECT_BONUS):
        if width <= n_observed + 1:
            raise ValueError("width leaves no room for invented predicates.")
        self.n_observed, self.width = n_observed, width
        self.correct_bonus = correct_bonus
        self.rules = {}

    def is_observed(self, r):
        return r is not None and 1 <= r <= self.n_observed

    def head(self, pair):
        rule = self.rules.get(pair)
        return None if rule is None else rule[0]

    def score(self, pair):
        rule = self.rules.get(pair)
        return 0.0 if rule is None else rule[1]

    def confirmed(self, min_score):
        """A copy holding only the rules scored above ``min_score``."""
        out = copy.copy(self)
        out.rules = {p: rule for p, rule in self.rules.items() if rule[1] > min_score}
        return out

    def free_invented(self, taken=()):
        """The lowest invented id no stored rule (nor ``taken``) has as head."""
        used = {head for head, _ in self.rules.values()} | set(taken)
        for r in range(self.n_observed + 1, self.width):
            if r not in used:
                return r
        return None

    def reward(self, used, created, prediction, target, n_steps):
        """Update the scores of the rules used in an episode (in order)."""
        for pair in used:
            if pair not in self.rules:
                continue
            head = self.rules[pair][0]
            body_observed = all(self.is_observed(r) for r in pair)
            if body_observed and self.is_observed(head):
                inc = GROUND
            elif self.is_observed(head):
                inc = HEAD_OBSERVED
            elif pair in created and body_observed:
                inc = NEW_CANDIDATE
            elif pair not in created:
                inc = INVENTED
            else:
                inc = OTHER
            if prediction == target:
                inc += self.correct_bonus + (SINGLE_STEP_BONUS if n_steps == 1 else 0.0)
            elif self.is_observed(prediction):
                inc = WRONG
            self.rules[pair][1] += inc

    def decay(self):
        for rule in self.rules.values():
            rule[1] *= 1 - DECAY

    def prune(self, protect=()):
        """Delete rules scored below the threshold, and every rule whose body
        uses an invented head that no longer exists."""
        dropped = [
            p
            for p, (_, s) in self.rules.items()
            if s < DELETE_BELOW and p not in protect
        ]
        while dropped:
            for pair in dropped:
                self.rules.pop(pair, None)
            heads = {h for h, _ in self.rules.values()}
            dropped = [
                p
                for p in self.rules
                if any(not self.is_observed(r) and r not in heads for r in p)
            ]

    def rewrite(self, invented, target):
        """Backtrack rewriting: the invented predicate means ``target``. Heads
        equal to it become ``target``; bodies using it are substituted, and a
        substituted rule is dropped when it conflicts with a stored one."""
        for rule in self.rules.values():
            if rule[0] == invented:
                rule[0] = target
        for pair in [p for p in self.rules if invented in p]:
            head, score = self.rules.pop(pair)
            new = tuple(target if r == invented else r for r in pair)
            stored = self.rules.get(new)
            if stored is None:
                self.rules[new] = [head, score]
            elif stored[0] == head:
                stored[1] = max(stored[1], score)
            # else: conflict, the substituted rule is dropped

    def contexts(self):
        """Each predicate's contexts in the positively scored rules:
        ``("left", other) -> head`` for rules ``(p, other) -> head`` and
        ``("right", other) -> head`` for rules ``(other, p) -> head``."""
        out = {}
        for (a, b), (head, score) in self.rules.items():
            if score > 0:
                out.setdefault(a, {})[("left", b)] = head
                out.setdefault(b, {})[("right", a)] = head
        return out

    def unify(self):
        """Predicate unification: rewrite an invented predicate to the predicate
        its rules say it is.

        An invented predicate that was never the answer of an episode is never
        grounded by backtrack rewriting, however well its rules are confirmed
        (a relation that is only an intermediate step of the training stories);
        and one concept can get several invented predicates, one per pair that
        first produced it. A predicate ``b`` matches invented ``a`` when they
        share at least one context and agree on every shared context. ``a`` is
        rewritten (as by backtrack rewriting) to the best match - most shared
        contexts, an observed relation before an invented one, the lowest id
        among invented ones - unless two observed relations tie for it
        (ambiguous: left alone). Repeats until nothing matches.

        Returns
        -------
        merged : list of (invented, predicate)
        """
        merged = []
        while True:
            contexts = self.contexts()
            found = None
            for a in sorted(p for p in contexts if not self.is_observed(p)):
                b = self._best_match(a, contexts)
                if b is not None:
                    found = (a, b)
                    break
            if found is None:
                return merged
            self.rewrite(*found)
            merged.append(found)

    def _best_match(self, a, contexts):
        """The predicate ``unify`` rewrites ``a`` to, or None (no match, or two
        observed relations tie)."""
        matches = {}
        for b, context in contexts.items():
            shared = contexts[a].keys() & context.keys()
            if b != a and shared and all(contexts[a][k] == context[k] for k in shared):
                matches[b] = len(shared)
        if not matches:
            return None
        top = max(matches.values())
        best = [b for b, n in matches.items() if n == top]
        observed = [b for b in best if self.is_observed(b)]
        if len(observed) > 1:
            return None
        return observed[0] if observed else min(best)
