"""Benchmark: where sentences end in captions, by the splitters we weighed (issue 19).

    .venv/bin/python bench/sentences.py

Two sets of two- or three-sentence captions, each with an abbreviation, an initial, a time or a
number with a stop in it ("5:30 p.m.", "Mr. Badger", "z. B.", "M. Lapin", "3.50"), in English,
German, French and Spanish (a few Italian and Dutch): TUNING, written before any splitter was
run, on whose misses the table in services/story/sentences.py was made; FRESH, written after
that, to judge the table on captions it was not made from. A caption is right when every
sentence comes out whole. Time: CPU per caption, median of rounds.

- "stop + space": every . ! ? … followed by a space ends a sentence (the paging before issue 19).
- "sentencex": Wikimedia's segmenter alone.
- "ours": sentencex plus our table (services/story/sentences.py), what paging uses.
- "pysbd", "sentence-splitter": the other candidates, when installed (not dependencies).
A measurement, not a test.
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sentencex

from services.story.sentences import sentence_starts

Split = Callable[[str, str], list[str]]

# (language, sentences): the caption is the sentences joined by a space.
TUNING = [
    ("en", ["At 5:30 p.m. the owls woke up.", "They flew to the barn."]),
    ("en", ["Mr. Badger lived under the old oak.", "He liked tea."]),
    ("en", ["Dr. Owl looked at the map.", "It was late."]),
    ("en", ["Bring something warm, e.g. a scarf or a hat.", "The night will be cold."]),
    ("en", ["The apples cost 3.50 a bag.", "Mira bought two."]),
    ("en", ["J. R. R. Tolkien wrote about hobbits.", "Mira loved his books."]),
    ("en", ["Mrs. Hedgehog and Ms. Mole met at noon.", "They shared a pie."]),
    ("en", ["The train left at 7 a.m. sharp.", "Nobody was late."]),
    ("en", ["She lived on Baker St. near the park.", "Every day she fed the ducks."]),
    ("en", ["Prof. Wren counted 1,250 stars.", "Then she fell asleep."]),
    ("en", ["The boat was 4.5 m long.", "It was painted red."]),
    ("en", ["They met St. Nicholas at the door.", "He smiled."]),
    ("en", ["Wait!", "Who is there?", "It is only me."]),
    ("en", ['"Come back!" she cried.', "But the fox was gone."]),
    ("en", ["The cat, i.e. Tom, slept all day.", "The dog did not."]),
    ("en", ["Captain B. Jones sailed away.", "The sea was calm."]),
    ("en", ["It was the U.S. ship Harmony.", "Its sails were white."]),
    ("en", ["The race began at 10 a.m.", "Hare was already asleep."]),
    ("en", ["Vol. 2 of the book was missing.", "Mira looked everywhere."]),
    ("en", ["They walked 2.5 km to the lake, etc. and back.", "It was fun."]),
    ("de", ["Um 17.30 Uhr kam der Bus.", "Alle stiegen ein."]),
    ("de", ["Herr Dr. Maus wohnte im Keller.", "Er mochte Käse."]),
    ("de", ["Sie brachte Obst mit, z. B. Äpfel und Birnen.", "Das Picknick war lecker."]),
    ("de", ["Das Haus Nr. 5 war blau.", "Dort wohnte der Igel."]),
    ("de", ["Am 3. Mai begann die Reise.", "Die Sonne schien."]),
    ("de", ["Frau Prof. Eule las ein Buch.", "Es war spannend."]),
    ("de", ["Das kostete 3,50 Euro.", "Der Fuchs bezahlte."]),
    ("de", ["Es gab Kuchen, Tee usw. für alle.", "Alle waren satt."]),
    ("de", ["Sie wohnten in der Hauptstr. am Markt.", "Dort war es laut."]),
    ("de", ["Der Zug fuhr ca. zwei Stunden.", "Dann waren sie da."]),
    ("de", ["Wie spät ist es?", "Schon acht Uhr!", "Wir müssen los."]),
    ("de", ["Das war im 19. Jahrhundert.", "Damals gab es keine Autos."]),
    ("de", ["Der Vogel flog u. a. nach Afrika.", "Im Frühling kam er zurück."]),
    ("fr", ["M. Lapin habitait près du bois.", "Il aimait les carottes."]),
    ("fr", ["Mme Dupont ouvrit la porte.", "Le chat entra."]),
    ("fr", ["Il arriva à 17 h 30.", "Tout le monde dormait."]),
    ("fr", ["Prenez des fruits, p. ex. des pommes.", "Le voyage sera long."]),
    ("fr", ["Le gâteau coûtait 3,50 euros.", "Marie en acheta deux."]),
    ("fr", ["Tu viens ?", "Oui, j'arrive !", "Attends-moi."]),
    ("fr", ["Le Dr. Hibou soigna la souris.", "Elle guérit vite."]),
    ("fr", ["Ils lurent le chap. 3 ensemble.", "C'était drôle."]),
    ("fr", ["M. et Mme Renard partirent en voyage.", "Il faisait beau."]),
    ("es", ["El Sr. Pérez abrió la tienda.", "Había mucha gente."]),
    ("es", ["¿Dónde está el gato?", "¡Aquí está!"]),
    ("es", ["La Dra. Luna curó al perro.", "Todos aplaudieron."]),
    ("en", ["She packed apples, pears, plums, etc.", "Then she left."]),
    ("en", ["Tom was 5.", "His sister was 7."]),
    ("en", ['"Who is it?" asked the fox.', "Nobody answered."]),
    ("en", ["The clock struck 12:00.", "Midnight!"]),
    ("en", ["A. A. Milne wrote about a bear.", "The bear loved honey."]),
    ("en", ["The ship sailed at 6 p.m. on Friday.", "Mira waved goodbye."]),
    ("en", ["Dr. Seuss and Mr. Rogers were friends.", "Or were they?"]),
    ("en", ["The sign said No. 7.", "They knocked."]),
    ("de", ["Sie war 5 Jahre alt.", "Ihr Bruder war 7."]),
    ("de", ["„Wer ist da?“ fragte der Fuchs.", "Niemand antwortete."]),
    ("de", ["Um 8 Uhr bzw. etwas später ging es los.", "Alle waren müde."]),
    ("de", ["Er las S. 12 vor.", "Dann schlief er ein."]),
    ("fr", ["« Qui est là ? » demanda le renard.", "Personne ne répondit."]),
    ("fr", ["Ils partirent vers 8 h, etc.", "Le soleil brillait."]),
    ("fr", ["Mlle Souris vivait au n° 5.", "Elle aimait le fromage."]),
    ("es", ["Eran las 5 p. m. cuando llegó.", "Todos cenaron."]),
]

FRESH = [
    ("en", ["Mrs. Fox baked bread at 6 a.m. every day.", "Her kits ate it warm."]),
    ("en", ["W. B. Yeats wrote poems about swans.", "Mira read one aloud."]),
    ("en", ["The owl, i.e. the wisest bird, said nothing.", "It blinked."]),
    ("en", ["Jump over No. 9 and turn left.", "The hedgehog did."]),
    ("en", ["It cost 2.75 at the fair.", "Tom paid in coins."]),
    ("en", ['"Hurry up!" said Dr. Stork.', "The babies giggled."]),
    ("en", ["The boat left at 4:15 p.m. from the pier.", "Gulls followed it."]),
    ("en", ["They sang, danced, ate cake, etc. until late.", "Then they slept."]),
    ("en", ["No.", "I will not go!"]),
    ("en", ["Mr. and Mrs. Mole dug a tunnel.", "It led to the river."]),
    ("en", ["Lt. Frog saluted.", "The parade began."]),
    ("en", ["Is it 9.30 already?", "Yes."]),
    ("de", ["Der Zug kam um 9.15 Uhr an.", "Oma wartete schon."]),
    ("de", ["Frau Dr. Igel half dem Hasen.", "Er war dankbar."]),
    ("de", ["Sie fanden u. a. Muscheln und Steine.", "Der Eimer war voll."]),
    ("de", ["Am 24. Dezember schneite es.", "Alle freuten sich."]),
    ("de", ["Er wohnte in der Bahnhofstr. 7 bei Oma.", "Dort war es gemütlich."]),
    ("de", ["Das Boot war ca. 4 m lang.", "Es war rot."]),
    ("de", ["Seit dem 1. Januar lebte er im Wald.", "Er mochte es dort."]),
    ("de", ["„Komm schnell!“ rief Herr Maus.", "Die Kinder liefen."]),
    ("de", ["Sie las S. 5 bis S. 9.", "Dann war sie müde."]),
    ("fr", ["M. Dupont arriva à 8 h.", "Il était en retard."]),
    ("fr", ["Mlle Chouette chantait, p. ex. des berceuses.", "Les oiseaux écoutaient."]),
    ("fr", ["Le Dr. Castor construisit un barrage.", "L'eau monta."]),
    ("fr", ["« Viens ! » cria Mme Lapin.", "Son fils accourut."]),
    ("fr", ["Il paya 2,50 € pour le pain.", "Le boulanger sourit."]),
    ("fr", ["J.-P. Renard lisait le journal.", "Il bâilla."]),
    ("es", ["El Dr. Búho leyó el libro.", "Era muy largo."]),
    ("es", ["La Sra. Gómez llegó a las 5.", "Todos la saludaron."]),
    ("es", ["¿Vienes?", "Sí, ya voy."]),
    ("it", ["Il sig. Rossi aprì la porta.", "Entrò il gatto."]),
    ("nl", ["Dhr. Jansen fietste naar huis.", "Het regende."]),
]


def _pieces(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *cuts, len(text)]
    return [
        text[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False) if text[a:b].strip()
    ]


def stop_and_space(text: str, language: str) -> list[str]:
    return [p for p in re.split(r"(?<=[.!?…])[\"'»”’)\]]*\s+", text) if p]


def sentencex_alone(text: str, language: str) -> list[str]:
    return [b["text"].strip() for b in sentencex.get_sentence_boundaries(language, text)]


def ours(text: str, language: str) -> list[str]:
    return _pieces(text, sentence_starts(text, language))


def candidates() -> dict[str, Split]:
    found: dict[str, Split] = {
        "stop + space": stop_and_space,
        "sentencex": sentencex_alone,
        "ours": ours,
    }
    try:
        import pysbd

        segmenters: dict[str, pysbd.Segmenter] = {}

        def with_pysbd(text: str, language: str) -> list[str]:
            segmenter = segmenters.setdefault(
                language, pysbd.Segmenter(language=language, clean=False)
            )
            return [piece.strip() for piece in segmenter.segment(text)]

        found["pysbd"] = with_pysbd
    except ImportError:
        pass
    try:
        from sentence_splitter import SentenceSplitter

        splitters: dict[str, SentenceSplitter] = {}

        def with_koehn(text: str, language: str) -> list[str]:
            return splitters.setdefault(language, SentenceSplitter(language=language)).split(text)

        found["sentence-splitter"] = with_koehn
    except ImportError:
        pass
    return found


def right(split: Split, cases: list[tuple[str, list[str]]]) -> int:
    count = 0
    for language, expected in cases:
        try:
            count += split(" ".join(expected), language) == expected
        except Exception:  # noqa: BLE001 - a splitter that fails on a language is wrong there
            pass
    return count


def cpu_per_caption(split: Split, rounds: int = 5) -> float:
    cases = TUNING + FRESH
    times = []
    for round_ in range(rounds):
        start = time.process_time()
        for language, expected in cases:
            split(" ".join(expected) + f" Page {round_}.", language)
        times.append((time.process_time() - start) / len(cases))
    return statistics.median(times)


def main() -> None:
    print(f"{'splitter':<20}{'tuning':>10}{'fresh':>10}{'us/caption':>12}")
    for name, split in candidates().items():
        tuning = f"{right(split, TUNING)}/{len(TUNING)}"
        fresh = f"{right(split, FRESH)}/{len(FRESH)}"
        print(f"{name:<20}{tuning:>10}{fresh:>10}{cpu_per_caption(split) * 1e6:>12.0f}")


if __name__ == "__main__":
    main()
