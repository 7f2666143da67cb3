//! Embedded word lists for the sentence grammar, by category. Order matters:
//! the `vocab_per_category` knob keeps the first N words of each list, and the
//! grammar samples within a list with Zipf-like weights by position, so
//! common words come first.
//!
//! Nouns: `singular` (regular plural) or `singular:plural`.
//! Verbs: `base` (regular) or `base:past:participle[:ing]`.

pub const PEOPLE: &str =
    "teacher doctor farmer driver student child:children woman:women man:men girl boy \
baker nurse pilot singer writer painter lawyer sailor soldier player \
neighbour friend brother sister mother father uncle aunt cousin captain \
manager worker engineer scientist artist actor dancer cook guard officer \
visitor stranger customer tourist traveller waiter barber banker builder carpenter \
clerk coach dentist editor farmhand fisherman:fishermen gardener guide hunter judge \
king queen knight librarian mayor merchant miner musician novelist poet \
porter postman:postmen priest prince princess professor reporter ruler servant shepherd \
surgeon tailor tenant trader tutor umpire vendor veteran villager widow";

pub const ANIMALS: &str = "dog cat horse bird cow sheep:sheep pig goat duck rabbit \
mouse:mice fox wolf:wolves bear lion tiger monkey deer:deer frog snake \
owl eagle goose:geese hen chicken donkey camel zebra whale dolphin \
turtle spider bee ant beetle parrot pigeon crow swan seal \
otter badger squirrel hedgehog lizard shark salmon trout moth butterfly";

pub const THINGS: &str = "book letter box key bag phone car ball cup table \
chair door window picture bottle basket hat coat shoe map \
ticket bicycle boat clock lamp pen pencil paper knife:knives spoon \
plate bowl bucket blanket pillow candle mirror camera radio guitar \
piano drum violin watch ring necklace wallet umbrella jacket sweater \
scarf glove shirt dress skirt boot sock belt tie button \
brush comb towel soap bed sofa shelf:shelves desk cupboard ladder \
hammer nail screw rope chain wheel engine tyre truck train \
bus plane ship rocket kite balloon toy puzzle card coin \
stone rock stick log leaf:leaves flower tree branch seed fence \
gate wall roof floor carpet curtain blind stove oven kettle \
fork jar tin barrel crate parcel envelope stamp note diary \
magazine newspaper novel poem song story report message signal sign \
flag banner poster ribbon badge medal trophy prize gift present \
statue painting drawing photo sketch model machine computer screen keyboard \
cable wire battery bulb switch tool saw drill spade rake \
helmet mask shield sword arrow bow tent torch compass anchor";

pub const FOODS: &str = "apple bread cake egg orange banana sandwich pie cookie lemon \
potato:potatoes tomato:tomatoes carrot onion pear peach plum grape cherry melon \
biscuit muffin pancake pizza noodle sausage burger pepper cucumber mushroom \
strawberry raspberry pumpkin turnip cabbage bean pea nut olive cheese";

pub const ROOMS: &str = "kitchen garden house school office shop market park station library \
hospital church bridge river road street village town city farm \
forest field hill mountain lake beach harbour island castle tower \
museum theatre cinema restaurant hotel bakery factory warehouse garage barn \
cottage palace prison stadium airport valley desert meadow orchard cave \
classroom hallway bedroom bathroom cellar attic balcony porch yard square";

pub const TRANSITIVE: &str = "see:saw:seen find:found:found take:took:taken bring:brought:brought make:made:made \
give:gave:given carry open close watch want need like love hate help \
call visit paint clean wash cook buy:bought:bought sell:sold:sold read:read:read write:wrote:written \
build:built:built break:broke:broken fix move push pull lift drop:dropped:dropped hold:held:held throw:threw:thrown \
catch:caught:caught kick hit:hit:hit:hitting follow chase leave:left:left meet:met:met teach:taught:taught show:showed:shown \
keep:kept:kept send:sent:sent lend:lent:lent borrow steal:stole:stolen hide:hid:hidden choose:chose:chosen \
count check collect deliver describe design discover examine explain fill \
fold grab greet guard hang:hung:hung hunt invite join kiss mend \
mark measure mix order pack pass pick plant play post \
prepare protect race receive remember repair rescue return ride:rode:ridden ring:rang:rung \
save scrub search serve shake:shook:shaken share shut:shut:shut:shutting sign sketch \
spill stir:stirred:stirred:stirring store study taste test touch trust turn wake:woke:woken \
warn weigh wrap admire answer ask attack avoid bake bend:bent:bent \
bite:bit:bitten blow:blew:blown boil burn bury climb copy cover cross cut:cut:cut:cutting \
dig:dug:dug:digging draw:drew:drawn drive:drove:driven eat:ate:eaten feed:fed:fed fetch forget:forgot:forgotten:forgetting \
grow:grew:grown hear:heard:heard hug:hugged:hugged:hugging kick knock lose:lost:lost notice \
offer park pour print promise rob:robbed:robbed:robbing roll rub:rubbed:rubbed:rubbing scare seize sew \
shoot:shot:shot sink:sank:sunk spot:spotted:spotted:spotting squeeze stamp steer stretch tear:tore:torn tie:tied:tied:tying";

pub const INTRANSITIVE: &str = "sleep:slept:slept run:ran:run:running walk laugh smile cry sing:sang:sung dance jump swim:swam:swum:swimming \
wait arrive leave:left:left stay rest work talk shout listen travel:travelled:travelled:travelling \
sit:sat:sat:sitting stand:stood:stood fall:fell:fallen fly:flew:flown hurry knock nod:nodded:nodded:nodding pause pray relax \
rise:rose:risen shiver sigh skip:skipped:skipped:skipping slip:slipped:slipped:slipping sneeze stumble vanish wander whisper yawn \
complain cough agree argue breathe hesitate improve kneel:knelt:knelt melt panic:panicked:panicked:panicking";

pub const ADJECTIVES: &str = "big small old new red blue green yellow black white \
happy sad tall short long quick slow bright dark warm \
cold hot young clever kind brave quiet loud heavy light \
soft hard clean dirty empty full rich poor strong weak \
busy lazy hungry thirsty tired angry calm gentle proud shy \
wild tame fresh stale sweet sour bitter salty smooth rough \
sharp blunt narrow wide deep shallow huge tiny giant little \
famous strange lucky careful careless honest polite rude funny serious \
wooden golden silver purple orange pink brown grey striped spotted \
round square flat curly shiny dusty muddy rusty broken tidy \
messy noisy silent sleepy lonely friendly cheerful grumpy nervous curious \
ancient modern simple fancy plain pretty ugly handsome elegant clumsy \
gloomy sunny rainy windy snowy foggy stormy frozen wet dry \
crowded distant nearby hidden secret precious cheap expensive useful useless \
delicate enormous fragile graceful hollow jolly magnificent narrow peaceful rapid";

pub const ADVERBS: &str =
    "quickly slowly quietly loudly carefully happily sadly gently suddenly finally \
often always never sometimes usually rarely soon early late again \
badly bravely calmly eagerly easily fiercely gladly honestly kindly lazily \
nearly neatly nervously openly patiently politely proudly rapidly roughly safely \
secretly seriously silently smoothly softly sternly swiftly tightly warmly wisely";

pub const NAMES: &str = "Mary John Anna Peter Susan David Emma James Lucy Thomas \
Sarah Michael Laura Daniel Alice Robert Helen George Grace Henry \
Kate William Jane Edward Rose Charles Emily Frank Clara Oliver \
Olivia Jack Sophie Harry Ellen Albert Nora Arthur Ruth Walter \
Julia Victor Irene Samuel Martha Hugo Agnes Simon Vera Oscar \
Diana Felix Linda Martin Carol Leo Paula Ivan Rita Paul \
Nina Adam Eva Ben Maria Carl Lisa Ray Amy Tom \
Fiona Gregory Hannah Isaac Joan Kevin Lily Mark Nancy Owen \
Patricia Quentin Rachel Steven Tina Ursula Vincent Wendy Xavier Yvonne \
Zachary Beatrice Cedric Dorothy Ernest Florence Gilbert Harriet Ingrid Jasper";

pub const PLACES: &str = "London Paris Berlin Madrid Rome Vienna Dublin Boston Chicago Denver \
Toronto Sydney Tokyo Cairo Lisbon Prague Oslo Athens Warsaw Moscow \
Texas Ohio Oregon Florida Kansas Nevada Utah Alaska Georgia Virginia \
France Spain Italy Germany Canada Mexico Brazil India China Japan \
Egypt Kenya Peru Chile Norway Sweden Poland Greece Turkey Ireland \
Scotland Wales England Denmark Finland Austria Belgium Holland Portugal Iceland \
Glasgow Leeds Bristol Oxford Cambridge Seattle Dallas Houston Phoenix Atlanta \
Geneva Munich Milan Naples Venice Florence Seville Marseille Lyon Hamburg";

pub const NUMBERS: &str = "two three four five six seven eight nine ten eleven twelve \
thirteen fourteen fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty \
sixty seventy eighty ninety";

pub const DAYS: &str = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday";
pub const MONTHS: &str =
    "January February March April May June July August September October November December";
pub const PARTS_OF_DAY: &str = "morning afternoon evening night";

/// Prepositions for locations ("in the kitchen").
pub const LOC_PREPS: &str = "in near behind beside outside inside across past";
/// Prepositions for objects ("with the key").
pub const OBJ_PREPS: &str = "with under on beside behind near";
