"""Redaction speed: microseconds per typical relayed message (target ≤ 200 µs, issue 9).

Every relayed message goes through `core.safety.redact`, inside the bus's transaction, so its
cost adds to each message's latency. The mix below is what a conversation between a student
and a mentor looks like: mostly plain talk with numbers that are not contact details (dates,
times, grades, prices), some with a contact detail to hide. Prints the mean, the median and the
99th percentile per message, then the same for the plain talk and the messages with details.

    .venv/bin/python tests/bench/bench_redaction.py [ROUNDS]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from core.safety import redact  # noqa: E402

TARGET_US = 200.0

PLAIN = [
    "Salut! Merci d'avoir accepté. Je suis en secondaire 4 et j'aimerais devenir infirmière.",
    "Bonne question. Le DEC en soins infirmiers dure 3 ans, puis le bac, en 2024-2025.",
    "J'ai eu 85 % en maths et 78 % en chimie, est-ce que c'est assez pour le cégep?",
    "On peut se reparler jeudi le 29/11 vers 14 h 30? J'ai un examen de MAT-4173 avant.",
    "Mon stage c'est 35 h par semaine pendant 6 semaines, payé 18,50 $ de l'heure.",
    "Hi! I'm in grade 11 and I want to become a welder. How long is the program?",
    "The DEP is about 1800 hours. Most of my classmates found a job within 3 months.",
    "I start at 8:45 and finish at 3:15, room 2.105. Lunch is 30 min.",
    "Merci beaucoup pour tes conseils, c'est vraiment utile. Bonne fin de semaine!",
    "Il y a 3 500 élèves dans mon école et seulement 2 conseillers d'orientation.",
    "Tu peux appeler Tel-jeunes au 1 800 263-2266 si ça ne va pas, c'est gratuit.",
    "ok",
    "Je pense que je vais m'inscrire en génie civil à Polytechnique l'an prochain 🙂",
    "What's the hardest part of your job? I'm scared of the night shifts.",
]
WITH_DETAILS = [
    "Appelle-moi au 514 555-1234 après 18 h, c'est plus simple.",
    "mon snap c'est zoe_22 ajoute-moi!",
    "Écris-moi à zoe.b@gmail.com pour la suite.",
    "My insta is @zoe.dance and my number is (416) 555-0199",
    "cinq un quatre, cinq cinq cinq, douze trente-quatre",
    "J'habite au 1234 rue Sherbrooke Est, H2X 1Y4, viens me voir.",
]
MIX = PLAIN * 3 + WITH_DETAILS  # about one message in eight carries a detail


def per_message(messages: list[str], rounds: int) -> list[float]:
    """Microseconds per call, one figure per message and round (best of five calls each)."""
    figures = []
    for _ in range(rounds):
        for text in messages:
            best = min(_time(text) for _ in range(5))
            figures.append(best * 1e6)
    return figures


def _time(text: str) -> float:
    start = time.perf_counter()
    redact(text, "fr")
    return time.perf_counter() - start


def report(name: str, figures: list[float]) -> None:
    ordered = sorted(figures)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:16} mean {statistics.fmean(figures):7.1f} µs   median "
          f"{statistics.median(figures):7.1f} µs   p99 {p99:7.1f} µs")


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for text in MIX:  # warm up: compiled patterns, phonenumbers' metadata
        redact(text)
    mix = per_message(MIX, rounds)
    report("typical mix", mix)
    report("plain talk", per_message(PLAIN, rounds))
    report("with details", per_message(WITH_DETAILS, rounds))
    mean = statistics.fmean(mix)
    verdict = "ok" if mean <= TARGET_US else "OVER TARGET"
    print(f"target ≤ {TARGET_US:.0f} µs per typical message: {mean:.1f} µs, {verdict}")


if __name__ == "__main__":
    main()
