//! A seeded probabilistic sentence grammar over the embedded word lists
//! ([`super::words`]): statements in several tenses, yes/no and wh-questions,
//! commands, relative clauses, coordination, copular sentences, quantities
//! and reported speech, with prepositional phrases and time expressions.
//!
//! Words within a category are drawn with Zipf-like weights (rank^-zipf), so
//! a word n-gram LM has real structure to learn (agreement, tense, fixed
//! templates, frequent words) while the open-class slots keep the task from
//! being trivial.
use rand::Rng;

use super::words;

/// A noun with its plural.
#[derive(Debug, Clone)]
struct Noun {
    sg: String,
    pl: String,
}

/// A verb with its inflected forms.
#[derive(Debug, Clone)]
struct Verb {
    base: String,
    s3: String,
    past: String,
    part: String,
    ing: String,
}

/// Items with Zipf-like sampling weights by position.
#[derive(Debug, Clone)]
struct Cat<T> {
    items: Vec<T>,
    cum: Vec<f64>,
}

impl<T> Cat<T> {
    fn new(items: Vec<T>, keep: usize, zipf: f64) -> Self {
        let mut items = items;
        items.truncate(keep.max(1));
        let mut cum = Vec::with_capacity(items.len());
        let mut total = 0.0;
        for r in 0..items.len() {
            total += 1.0 / ((r + 1) as f64).powf(zipf);
            cum.push(total);
        }
        Cat { items, cum }
    }
    fn pick<R: Rng>(&self, rng: &mut R) -> &T {
        let x = rng.gen::<f64>() * self.cum[self.cum.len() - 1];
        let i = self
            .cum
            .partition_point(|&c| c <= x)
            .min(self.items.len() - 1);
        &self.items[i]
    }
}

fn dedup(list: &str) -> Vec<&str> {
    let mut seen = std::collections::HashSet::new();
    list.split_whitespace()
        .filter(|w| seen.insert(w.split(':').next().unwrap()))
        .collect()
}

fn plural(sg: &str) -> String {
    let b = sg.as_bytes();
    let last = *b.last().unwrap() as char;
    let prev = if b.len() >= 2 {
        b[b.len() - 2] as char
    } else {
        ' '
    };
    if sg.ends_with('s')
        || sg.ends_with('x')
        || sg.ends_with('z')
        || sg.ends_with("ch")
        || sg.ends_with("sh")
    {
        format!("{sg}es")
    } else if last == 'y' && !"aeiou".contains(prev) {
        format!("{}ies", &sg[..sg.len() - 1])
    } else {
        format!("{sg}s")
    }
}

fn nouns(list: &str) -> Vec<Noun> {
    dedup(list)
        .into_iter()
        .map(|e| match e.split_once(':') {
            Some((sg, pl)) => Noun {
                sg: sg.into(),
                pl: pl.into(),
            },
            None => Noun {
                sg: e.into(),
                pl: plural(e),
            },
        })
        .collect()
}

fn third_person(base: &str) -> String {
    match base {
        "have" => "has".into(),
        "do" => "does".into(),
        "go" => "goes".into(),
        _ => plural(base),
    }
}

fn regular_past(base: &str) -> String {
    let b = base.as_bytes();
    let prev = if b.len() >= 2 {
        b[b.len() - 2] as char
    } else {
        ' '
    };
    if base.ends_with('e') {
        format!("{base}d")
    } else if base.ends_with('y') && !"aeiou".contains(prev) {
        format!("{}ied", &base[..base.len() - 1])
    } else {
        format!("{base}ed")
    }
}

fn regular_ing(base: &str) -> String {
    if let Some(stem) = base.strip_suffix("ie") {
        format!("{stem}ying")
    } else if base.ends_with('e')
        && !base.ends_with("ee")
        && !base.ends_with("ye")
        && !base.ends_with("oe")
        && base.len() > 2
    {
        format!("{}ing", &base[..base.len() - 1])
    } else {
        format!("{base}ing")
    }
}

fn verbs(list: &str) -> Vec<Verb> {
    dedup(list)
        .into_iter()
        .map(|e| {
            let f: Vec<&str> = e.split(':').collect();
            let base = f[0];
            let past = f
                .get(1)
                .map(|s| s.to_string())
                .unwrap_or_else(|| regular_past(base));
            let part = f
                .get(2)
                .map(|s| s.to_string())
                .unwrap_or_else(|| past.clone());
            let ing = f
                .get(3)
                .map(|s| s.to_string())
                .unwrap_or_else(|| regular_ing(base));
            Verb {
                base: base.into(),
                s3: third_person(base),
                past,
                part,
                ing,
            }
        })
        .collect()
}

fn plain(list: &str) -> Vec<String> {
    dedup(list).into_iter().map(String::from).collect()
}

/// Function words the templates use, besides the word lists.
const FUNCTION_WORDS: &str =
    "a an the this that these those my your his her our their every some many \
is are was were will has have had did do does don't not please and but because so while then \
who which what where when why how much there said thinks that \
yesterday today tomorrow tonight last next at on in o'clock half past quarter every of to \
i we you they he she it me am be from near told knew heard \
first second third fourth fifth tenth twelfth twentieth week month year summer winter spring";

/// Tense of a clause.
#[derive(Clone, Copy)]
enum Tense {
    Past,
    Present,
    Progressive,
    Future,
    Perfect,
}

/// The sentence grammar; build once, sample many.
#[derive(Debug, Clone)]
pub struct Grammar {
    people: Cat<Noun>,
    animals: Cat<Noun>,
    things: Cat<Noun>,
    foods: Cat<Noun>,
    rooms: Cat<Noun>,
    trans: Cat<Verb>,
    intrans: Cat<Verb>,
    adjs: Cat<String>,
    advs: Cat<String>,
    names: Cat<String>,
    places: Cat<String>,
    numbers: Cat<String>,
    days: Cat<String>,
    months: Cat<String>,
    parts: Cat<String>,
    loc_preps: Cat<String>,
    obj_preps: Cat<String>,
}

fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

impl Grammar {
    /// `vocab_per_category`: keep the first N words of each open-class list
    /// (nouns, verbs, adjectives, adverbs, names, places); `zipf`: the exponent
    /// of the rank-frequency weights within a list (0 = uniform).
    pub fn new(vocab_per_category: usize, zipf: f64) -> Self {
        let n = vocab_per_category;
        let all = usize::MAX;
        Grammar {
            people: Cat::new(nouns(words::PEOPLE), n, zipf),
            animals: Cat::new(nouns(words::ANIMALS), n, zipf),
            things: Cat::new(nouns(words::THINGS), n, zipf),
            foods: Cat::new(nouns(words::FOODS), n, zipf),
            rooms: Cat::new(nouns(words::ROOMS), n, zipf),
            trans: Cat::new(verbs(words::TRANSITIVE), n, zipf),
            intrans: Cat::new(verbs(words::INTRANSITIVE), n, zipf),
            adjs: Cat::new(plain(words::ADJECTIVES), n, zipf),
            advs: Cat::new(plain(words::ADVERBS), n, zipf),
            names: Cat::new(plain(words::NAMES), n, zipf),
            places: Cat::new(plain(words::PLACES), n, zipf),
            numbers: Cat::new(plain(words::NUMBERS), all, 0.5),
            days: Cat::new(plain(words::DAYS), all, 0.0),
            months: Cat::new(plain(words::MONTHS), all, 0.0),
            parts: Cat::new(plain(words::PARTS_OF_DAY), all, 0.0),
            loc_preps: Cat::new(plain(words::LOC_PREPS), all, 0.8),
            obj_preps: Cat::new(plain(words::OBJ_PREPS), all, 0.8),
        }
    }

    /// Every word form the grammar can produce, normalised (lower case).
    pub fn vocabulary(&self) -> std::collections::BTreeSet<String> {
        let mut v = std::collections::BTreeSet::new();
        let mut add = |s: &str| {
            for w in crate::text::words(&crate::text::normalise(s)) {
                v.insert(w.to_string());
            }
        };
        for c in [
            &self.people,
            &self.animals,
            &self.things,
            &self.foods,
            &self.rooms,
        ] {
            for n in &c.items {
                add(&n.sg);
                add(&n.pl);
            }
        }
        for c in [&self.trans, &self.intrans] {
            for x in &c.items {
                for f in [&x.base, &x.s3, &x.past, &x.part, &x.ing] {
                    add(f);
                }
            }
        }
        for c in [
            &self.adjs,
            &self.advs,
            &self.names,
            &self.places,
            &self.numbers,
            &self.days,
            &self.months,
            &self.parts,
            &self.loc_preps,
            &self.obj_preps,
        ] {
            for x in &c.items {
                add(x);
            }
        }
        add(FUNCTION_WORDS);
        add("one");
        v
    }

    fn tense<R: Rng>(rng: &mut R) -> Tense {
        match rng.gen_range(0..100) {
            0..=39 => Tense::Past,
            40..=59 => Tense::Present,
            60..=74 => Tense::Progressive,
            75..=89 => Tense::Future,
            _ => Tense::Perfect,
        }
    }

    fn maybe_adj<R: Rng>(&self, rng: &mut R, p: f64) -> String {
        if rng.gen_bool(p) {
            format!("{} ", self.adjs.pick(rng))
        } else {
            String::new()
        }
    }

    /// A subject noun phrase and whether it is plural.
    fn agent<R: Rng>(&self, rng: &mut R) -> (String, bool) {
        let r = rng.gen_range(0..100);
        if r < 30 {
            return (self.names.pick(rng).clone(), false);
        }
        if r < 36 {
            let pron = ["he", "she", "they", "we", "i", "you"][rng.gen_range(0..6)];
            let pl = matches!(pron, "they" | "we" | "you" | "i");
            return (pron.to_string(), pl);
        }
        let noun = if rng.gen_bool(0.75) {
            self.people.pick(rng)
        } else {
            self.animals.pick(rng)
        };
        self.determined(rng, noun, 0.35)
    }

    /// Determiner + optional adjective + noun; returns (phrase, plural).
    fn determined<R: Rng>(&self, rng: &mut R, noun: &Noun, p_adj: f64) -> (String, bool) {
        let adj = self.maybe_adj(rng, p_adj);
        if rng.gen_bool(0.3) {
            let det = [
                "the", "some", "these", "those", "many", "my", "our", "their",
            ][rng.gen_range(0..8)];
            (format!("{det} {adj}{}", noun.pl), true)
        } else {
            let det = match rng.gen_range(0..10) {
                0..=4 => "the",
                5..=6 => article(if adj.is_empty() { &noun.sg } else { &adj }),
                7 => "this",
                8 => ["my", "your", "his", "her", "our", "their"][rng.gen_range(0..6)],
                _ => "that",
            };
            (format!("{det} {adj}{}", noun.sg), false)
        }
    }

    /// An object noun phrase.
    fn object<R: Rng>(&self, rng: &mut R) -> String {
        let r = rng.gen_range(0..100);
        if r < 10 {
            return self.names.pick(rng).clone();
        }
        let noun = match r {
            10..=64 => self.things.pick(rng),
            65..=84 => self.foods.pick(rng),
            85..=94 => self.animals.pick(rng),
            _ => self.people.pick(rng),
        };
        if rng.gen_bool(0.12) {
            return format!(
                "{} {}{}",
                self.numbers.pick(rng),
                self.maybe_adj(rng, 0.4),
                noun.pl
            );
        }
        self.determined(rng, noun, 0.4).0
    }

    fn location<R: Rng>(&self, rng: &mut R) -> String {
        if rng.gen_bool(0.25) {
            let prep = if rng.gen_bool(0.5) {
                "in"
            } else {
                ["to", "from", "near"][rng.gen_range(0..3)]
            };
            return format!("{prep} {}", self.places.pick(rng));
        }
        format!(
            "{} the {}{}",
            self.loc_preps.pick(rng),
            self.maybe_adj(rng, 0.25),
            self.rooms.pick(rng).sg
        )
    }

    fn object_pp<R: Rng>(&self, rng: &mut R) -> String {
        format!(
            "{} the {}{}",
            self.obj_preps.pick(rng),
            self.maybe_adj(rng, 0.3),
            self.things.pick(rng).sg
        )
    }

    fn time<R: Rng>(&self, rng: &mut R) -> String {
        match rng.gen_range(0..10) {
            0 => ["yesterday", "today", "tomorrow", "tonight"][rng.gen_range(0..4)].to_string(),
            1 | 2 => format!("on {}", self.days.pick(rng)),
            3 => format!("in {}", self.months.pick(rng)),
            4 => format!(
                "{} {}",
                ["this", "every", "one"][rng.gen_range(0..3)],
                self.parts.pick(rng)
            ),
            5 => format!(
                "{} {}",
                ["last", "next"][rng.gen_range(0..2)],
                self.days.pick(rng)
            ),
            6 => format!(
                "at {} o'clock",
                [
                    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                    "eleven", "twelve"
                ][rng.gen_range(0..12)]
            ),
            7 => format!(
                "at {} past {}",
                ["half", "quarter", "ten", "twenty"][rng.gen_range(0..4)],
                ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
                    [rng.gen_range(0..10)]
            ),
            8 => format!(
                "on {} the {}",
                self.days.pick(rng),
                [
                    "first",
                    "second",
                    "third",
                    "fourth",
                    "fifth",
                    "tenth",
                    "twelfth",
                    "twentieth"
                ][rng.gen_range(0..8)]
            ),
            _ => format!(
                "{} {}",
                ["last", "next", "this"][rng.gen_range(0..3)],
                ["week", "month", "year", "summer", "winter", "spring"][rng.gen_range(0..6)]
            ),
        }
    }

    /// The verb group for a subject of the given number.
    fn verb_group(v: &Verb, t: Tense, plural: bool, subj: &str) -> String {
        let first = subj == "i";
        match t {
            Tense::Past => v.past.clone(),
            Tense::Present => {
                if plural {
                    v.base.clone()
                } else {
                    v.s3.clone()
                }
            }
            Tense::Progressive => format!(
                "{} {}",
                if first {
                    "am"
                } else if plural {
                    "are"
                } else {
                    "is"
                },
                v.ing
            ),
            Tense::Future => format!("will {}", v.base),
            Tense::Perfect => format!("{} {}", if plural { "have" } else { "has" }, v.part),
        }
    }

    /// A plain transitive or intransitive clause.
    fn clause<R: Rng>(&self, rng: &mut R, extras: bool) -> String {
        let (subj, pl) = self.agent(rng);
        let t = Self::tense(rng);
        let mut s = if rng.gen_bool(0.7) {
            let v = self.trans.pick(rng);
            let mut s = format!(
                "{subj} {} {}",
                Self::verb_group(v, t, pl, &subj),
                self.object(rng)
            );
            if extras && rng.gen_bool(0.25) {
                s += &format!(" {}", self.object_pp(rng));
            }
            s
        } else {
            let v = self.intrans.pick(rng);
            format!("{subj} {}", Self::verb_group(v, t, pl, &subj))
        };
        if extras {
            if rng.gen_bool(0.2) {
                s += &format!(" {}", self.advs.pick(rng));
            }
            if rng.gen_bool(0.35) {
                s += &format!(" {}", self.location(rng));
            }
            if rng.gen_bool(0.3) {
                s += &format!(" {}", self.time(rng));
            }
        }
        s
    }

    /// One sentence as written (capitalised, with final punctuation).
    pub fn sentence<R: Rng>(&self, rng: &mut R) -> String {
        let r = rng.gen_range(0..100);
        let (body, q) = match r {
            0..=27 => (self.clause(rng, true), false),
            28..=35 => {
                // yes/no question
                let (subj, pl) = self.agent(rng);
                let v = self.trans.pick(rng);
                let s = match rng.gen_range(0..4) {
                    0 => format!("did {subj} {} {}", v.base, self.object(rng)),
                    1 => format!("will {subj} {} {}", v.base, self.object(rng)),
                    2 => format!(
                        "{} {subj} {} {}",
                        if pl { "are" } else { "is" },
                        v.ing,
                        self.object(rng)
                    ),
                    _ => format!(
                        "{} {subj} {} {}",
                        if pl { "have" } else { "has" },
                        v.part,
                        self.object(rng)
                    ),
                };
                let s = if rng.gen_bool(0.4) {
                    format!("{s} {}", self.location(rng))
                } else {
                    s
                };
                (s, true)
            }
            36..=45 => {
                // wh-question
                let (subj, pl) = self.agent(rng);
                let v = self.trans.pick(rng);
                let s = match rng.gen_range(0..7) {
                    0 => format!("where did {subj} {} {}", v.base, self.object(rng)),
                    1 => format!("who {} {} {}", v.past, self.object(rng), self.time(rng)),
                    2 => format!("what {} {subj} {}", if pl { "are" } else { "is" }, v.ing),
                    3 => format!(
                        "how many {} did {subj} {}",
                        self.things.pick(rng).pl,
                        v.base
                    ),
                    4 => format!(
                        "why {} {subj} {} {}",
                        if pl { "do" } else { "does" },
                        v.base,
                        self.object(rng)
                    ),
                    5 => format!("when will {subj} {} {}", v.base, self.object(rng)),
                    _ => format!("which {} did {subj} {}", self.things.pick(rng).sg, v.base),
                };
                (s, true)
            }
            46..=53 => {
                // command
                let v = self.trans.pick(rng);
                let mut s = match rng.gen_range(0..4) {
                    0 => format!("please {} {}", v.base, self.object(rng)),
                    1 => format!("don't {} {}", v.base, self.object(rng)),
                    _ => format!("{} {}", v.base, self.object(rng)),
                };
                match rng.gen_range(0..3) {
                    0 => s += &format!(" {}", self.object_pp(rng)),
                    1 => s += &format!(" {}", self.advs.pick(rng)),
                    _ => s += &format!(" {}", self.location(rng)),
                }
                (s, false)
            }
            54..=63 => {
                // relative clause
                let rel = if rng.gen_bool(0.5) { "who" } else { "that" };
                let person = self.people.pick(rng);
                let (head, pl) = self.determined(rng, person, 0.2);
                let v1 = self.trans.pick(rng);
                let v2 = self.trans.pick(rng);
                let s = if rng.gen_bool(0.5) {
                    let t = Self::tense(rng);
                    format!(
                        "{head} {rel} {} {} {} {}",
                        v1.past,
                        self.object(rng),
                        Self::verb_group(v2, t, pl, &head),
                        self.object(rng)
                    )
                } else {
                    let (subj, spl) = self.agent(rng);
                    let t = Self::tense(rng);
                    let thing = self.things.pick(rng);
                    format!(
                        "{subj} {} the {} that {} {}",
                        Self::verb_group(v1, t, spl, &subj),
                        thing.sg,
                        self.names.pick(rng),
                        v2.past
                    )
                };
                (s, false)
            }
            64..=73 => {
                let conj = ["and", "but", "because", "so", "while"][rng.gen_range(0..5)];
                (
                    format!(
                        "{} {conj} {}",
                        self.clause(rng, false),
                        self.clause(rng, false)
                    ),
                    false,
                )
            }
            74..=83 => {
                // copula
                let s = match rng.gen_range(0..3) {
                    0 => {
                        let (subj, pl) = self.agent(rng);
                        let be = if rng.gen_bool(0.5) {
                            if pl {
                                "are"
                            } else {
                                "is"
                            }
                        } else if pl {
                            "were"
                        } else {
                            "was"
                        };
                        let be = if subj == "i" { "was" } else { be };
                        format!("{subj} {be} {}", self.adjs.pick(rng))
                    }
                    1 => format!(
                        "the {} {} was {} and {}",
                        self.things.pick(rng).sg,
                        self.location(rng),
                        self.adjs.pick(rng),
                        self.adjs.pick(rng)
                    ),
                    _ => format!(
                        "{} is a {} {} in {}",
                        self.names.pick(rng),
                        self.adjs.pick(rng),
                        self.people.pick(rng).sg,
                        self.places.pick(rng)
                    ),
                };
                (s, false)
            }
            84..=89 => {
                let v = self.trans.pick(rng);
                let noun = if rng.gen_bool(0.5) {
                    self.foods.pick(rng)
                } else {
                    self.things.pick(rng)
                };
                (
                    format!(
                        "{} {} {} {}{} at the {} {}",
                        self.names.pick(rng),
                        v.past,
                        self.numbers.pick(rng),
                        self.maybe_adj(rng, 0.4),
                        noun.pl,
                        self.rooms.pick(rng).sg,
                        self.time(rng)
                    ),
                    false,
                )
            }
            90..=94 => {
                let noun = if rng.gen_bool(0.5) {
                    self.animals.pick(rng)
                } else {
                    self.things.pick(rng)
                };
                (
                    format!(
                        "there {} {} {}{} {}",
                        ["were", "are", "will be"][rng.gen_range(0..3)],
                        self.numbers.pick(rng),
                        self.maybe_adj(rng, 0.4),
                        noun.pl,
                        self.location(rng)
                    ),
                    false,
                )
            }
            _ => {
                let verb = ["said", "thinks", "knew", "heard", "told me"][rng.gen_range(0..5)];
                (
                    format!(
                        "{} {verb} that {}",
                        self.names.pick(rng),
                        self.clause(rng, false)
                    ),
                    false,
                )
            }
        };
        let body = body.replace(" i ", " I ");
        let body = if let Some(rest) = body.strip_suffix(" i") {
            format!("{rest} I")
        } else {
            body
        };
        format!("{}{}", cap(&body), if q { "?" } else { "." })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn inflection_rules() {
        assert_eq!(plural("box"), "boxes");
        assert_eq!(plural("city"), "cities");
        assert_eq!(plural("toy"), "toys");
        assert_eq!(regular_past("carry"), "carried");
        assert_eq!(regular_past("bake"), "baked");
        assert_eq!(regular_ing("make"), "making");
        assert_eq!(regular_ing("tie"), "tying");
        assert_eq!(regular_ing("see"), "seeing");
        assert_eq!(third_person("watch"), "watches");
    }

    #[test]
    fn sampled_sentences_cover_over_1000_words_in_varied_shapes() {
        let g = Grammar::new(usize::MAX, 1.0);
        assert!(
            g.vocabulary().len() >= 1000,
            "lexicon {}",
            g.vocabulary().len()
        );
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        let mut questions = 0;
        let mut lens = 0usize;
        let n = 20_000;
        for _ in 0..n {
            let s = g.sentence(&mut rng);
            questions += s.ends_with('?') as usize;
            let norm = crate::text::normalise(&s);
            for w in crate::text::words(&norm) {
                seen.insert(w.to_string());
            }
            lens += crate::text::words(&norm).len();
        }
        assert!(
            seen.len() >= 1000,
            "only {} distinct words in {n} sentences",
            seen.len()
        );
        let mean = lens as f64 / n as f64;
        assert!((5.0..14.0).contains(&mean), "mean length {mean}");
        assert!(
            questions > n / 10 && questions < n / 3,
            "{questions} questions"
        );
    }

    #[test]
    fn vocab_knob_shrinks_the_vocabulary() {
        let small = Grammar::new(20, 1.0);
        let big = Grammar::new(usize::MAX, 1.0);
        assert!(small.vocabulary().len() * 3 < big.vocabulary().len());
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let voc = small.vocabulary();
        for _ in 0..2000 {
            let s = crate::text::normalise(&small.sentence(&mut rng));
            for w in crate::text::words(&s) {
                assert!(voc.contains(w), "{w:?} from {s:?} is not in the vocabulary");
            }
        }
    }
}
