"""Held-out children's-story sentences for choosing and checking the language identifier.

Written for this benchmark (none comes from a library's training or test data): per language two
short three-sentence stories in the register of a picture book. bench/language_id.py scores each
sentence alone (a one-sentence story or a single caption) and each three-sentence story whole.
"""

from __future__ import annotations

# language tag -> two stories of three sentences
LATIN: dict[str, list[list[str]]] = {
    "en": [
        [
            "Once upon a time, a little fox lived at the edge of a quiet forest.",
            "Every morning she ran to the river to say hello to the ducks.",
            "One day the river was gone, and the ducks were crying.",
        ],
        [
            "Tom had a red balloon that wanted to fly away.",
            "He held the string tight all the way to school.",
            "At lunch, the wind took it up over the roofs.",
        ],
    ],
    "de": [
        [
            "Es war einmal ein kleiner Igel, der nicht einschlafen konnte.",
            "Jede Nacht zählte er die Sterne über der Wiese.",
            "Eines Abends fiel ein Stern direkt vor seine Nase.",
        ],
        [
            "Lena wollte unbedingt einen Schneemann bauen.",
            "Aber draußen lag nur ein bisschen Schnee.",
            "Also baute sie einen ganz kleinen Schneemann mit einer Erbse als Nase.",
        ],
    ],
    "fr": [
        [
            "Il était une fois une petite souris qui adorait le fromage.",
            "Chaque soir, elle se faufilait dans la cuisine sans faire de bruit.",
            "Mais cette nuit-là, le chat l'attendait sous la table.",
        ],
        [
            "Léo a trouvé un caillou qui brillait dans le jardin.",
            "Il l'a montré à sa grand-mère en courant.",
            "Elle a souri et lui a dit que c'était un caillou magique.",
        ],
    ],
    "es": [
        [
            "Había una vez una tortuga que quería correr muy rápido.",
            "Todos los días practicaba en el camino del bosque.",
            "Un día, el conejo la invitó a una carrera.",
        ],
        [
            "Sofía encontró un gatito mojado bajo la lluvia.",
            "Lo llevó a casa y lo secó con una toalla.",
            "Desde entonces, el gatito duerme a los pies de su cama.",
        ],
    ],
    "it": [
        [
            "C'era una volta un piccolo drago che aveva paura del buio.",
            "Ogni sera chiedeva alla mamma di lasciare la luce accesa.",
            "Una notte, le lucciole vennero a giocare con lui.",
        ],
        [
            "Marco voleva un cane più di ogni altra cosa.",
            "Il giorno del suo compleanno sentì abbaiare in giardino.",
            "Corse fuori e vide un cucciolo con un fiocco rosso.",
        ],
    ],
    "pt": [
        [
            "Era uma vez um pequeno macaco que adorava bananas.",
            "Todas as manhãs ele subia na árvore mais alta da floresta.",
            "Um dia, ele viu um barco chegando na praia.",
        ],
        [
            "A Joana tinha medo de andar de bicicleta.",
            "O seu avô segurou o banco e correu ao lado dela.",
            "De repente, ela percebeu que estava andando sozinha.",
        ],
    ],
    "nl": [
        [
            "Er was eens een klein konijn dat heel graag wortels at.",
            "Elke ochtend huppelde het naar de moestuin van de boer.",
            "Op een dag stond daar een grote vogelverschrikker.",
        ],
        [
            "Sanne ging met haar vader naar het strand.",
            "Ze bouwden samen een hoog zandkasteel met een gracht.",
            "Toen kwam de zee en nam het kasteel mee.",
        ],
    ],
    "tr": [
        [
            "Bir varmış bir yokmuş, küçük bir kedi yavrusu varmış.",
            "Her gün bahçedeki kelebekleri kovalarmış.",
            "Bir gün yolunu kaybetmiş ve ormana girmiş.",
        ],
        [
            "Ali'nin kırmızı bir uçurtması vardı.",
            "Rüzgârlı bir günde onu tepeye götürdü.",
            "Uçurtma bulutlara kadar yükseldi.",
        ],
    ],
    "pl": [
        [
            "Dawno, dawno temu w małym domku mieszkał wesoły krasnoludek.",
            "Każdego ranka piekł chleb dla wszystkich zwierząt w lesie.",
            "Pewnego dnia zabrakło mu mąki.",
        ],
        [
            "Ola dostała na urodziny nowe buty.",
            "Chciała w nich skakać po wszystkich kałużach.",
            "Mama tylko się uśmiechnęła i podała jej kalosze.",
        ],
    ],
    "sv": [
        [
            "Det var en gång en liten björn som inte ville sova hela vintern.",
            "Han smög ut ur grottan och gick ner till sjön.",
            "Där satt en uggla och tittade förvånat på honom.",
        ],
        [
            "Elsa fick en cykel när hon fyllde sex år.",
            "Hon cyklade runt huset hela eftermiddagen.",
            "På kvällen var hon så trött att hon somnade vid middagen.",
        ],
    ],
    "da": [
        [
            "Der var engang en lille and, som ikke kunne svømme.",
            "Alle de andre ællinger lo ad ham ved søen.",
            "Men en dag lærte han det af en venlig frø.",
        ],
        [
            "Mads havde mistet sin yndlingsbamse i parken.",
            "Han ledte under alle bænkene og bag hvert træ.",
            "Til sidst fandt hans hund den i sandkassen.",
        ],
    ],
    "no": [
        [
            "Det var en gang et lite troll som var redd for mørket.",
            "Hver kveld tente han et lys i vinduet.",
            "En natt kom en stjerne og satte seg ved siden av ham.",
        ],
        [
            "Ingrid skulle gå på ski for første gang.",
            "Hun falt mange ganger, men hun reiste seg alltid igjen.",
            "Etterpå drakk hun varm sjokolade med pappa.",
        ],
    ],
    "fi": [
        [
            "Olipa kerran pieni orava, joka keräsi käpyjä koko syksyn.",
            "Talvella sen pesä oli täynnä ruokaa.",
            "Se jakoi käpyjä kaikille nälkäisille ystävilleen.",
        ],
        [
            "Eino rakensi majan isänsä kanssa metsään.",
            "He söivät siellä eväitä ja kuuntelivat lintuja.",
            "Illalla alkoi sataa, mutta maja piti heidät kuivina.",
        ],
    ],
    "cs": [
        [
            "Byl jednou jeden malý ježek, který hledal svůj domov.",
            "Chodil lesem celý den a ptal se všech zvířátek.",
            "Nakonec ho pozvala k sobě stará sova.",
        ],
        [
            "Anička si postavila z polštářů velký hrad.",
            "Byla v něm princezna a její pes byl drak.",
            "Večer přišla maminka a hrad musel jít spát.",
        ],
    ],
    "sk": [
        [
            "Bol raz jeden malý medvedík, ktorý sa bál vody.",
            "Každé leto sa jeho kamaráti kúpali v jazere.",
            "Jedného dňa ho mama naučila plávať.",
        ],
        [
            "Zuzka kreslila obrázok pre svoju babičku.",
            "Nakreslila dom, slnko a veľkú záhradu plnú kvetov.",
            "Babička si ho zavesila nad posteľ.",
        ],
    ],
    "ro": [
        [
            "A fost odată ca niciodată un urs mic care iubea mierea.",
            "În fiecare dimineață căuta stupi prin pădure.",
            "Într-o zi, albinele l-au invitat la o petrecere.",
        ],
        [
            "Maria a plantat o floare în grădina bunicii.",
            "A udat-o în fiecare zi cu o cană mică.",
            "La sfârșitul verii, floarea era mai înaltă decât ea.",
        ],
    ],
    "hu": [
        [
            "Egyszer volt, hol nem volt, élt egy kis nyuszi az erdő szélén.",
            "Minden reggel répát keresett a kertekben.",
            "Egy nap egy barátságos rókával találkozott.",
        ],
        [
            "Péter nagyon szeretett volna egy kiskutyát.",
            "A születésnapján egy doboz állt az asztalon.",
            "Amikor kinyitotta, egy bolyhos kölyök ugrott ki belőle.",
        ],
    ],
    "hr": [
        [
            "Bio jednom jedan mali zec koji je volio skakati.",
            "Svako jutro skakao je preko potoka u šumi.",
            "Jednog dana potok je postao velik i brz.",
        ],
        [
            "Ivana je dobila malo mače za rođendan.",
            "Nazvala ga je Mrvica jer je bilo jako sitno.",
            "Sada Mrvica spava na njezinom jastuku.",
        ],
    ],
    "ca": [
        [
            "Hi havia una vegada un gat que vivia en una teulada.",
            "Cada nit mirava la lluna i li parlava en veu baixa.",
            "Una nit, la lluna li va respondre.",
        ],
        [
            "En Pau volia ser pirata quan fos gran.",
            "Va fer un vaixell amb una capsa de cartró.",
            "El seu germà petit era el lloro del vaixell.",
        ],
    ],
    "vi": [
        [
            "Ngày xửa ngày xưa, có một chú mèo nhỏ sống bên bờ sông.",
            "Mỗi sáng, chú ra bờ sông để ngắm cá bơi.",
            "Một hôm, chú gặp một con rùa già rất thông thái.",
        ],
        [
            "Lan được bà tặng một chiếc diều màu xanh.",
            "Chiều nào em cũng thả diều trên cánh đồng.",
            "Chiếc diều bay cao tận những đám mây trắng.",
        ],
    ],
    "id": [
        [
            "Pada suatu hari, seekor kancil yang cerdik berjalan di tepi sungai.",
            "Dia ingin menyeberang, tetapi banyak buaya di dalam air.",
            "Kancil lalu mendapat ide yang sangat pintar.",
        ],
        [
            "Budi suka sekali bermain bola di halaman rumah.",
            "Suatu sore, bolanya masuk ke kebun tetangga.",
            "Dia mengetuk pintu dan meminta maaf dengan sopan.",
        ],
    ],
}

OTHER_SCRIPTS: dict[str, list[list[str]]] = {
    "ru": [
        [
            "Жил-был маленький ёжик, который очень любил яблоки.",
            "Каждую осень он собирал их в саду у старика.",
            "Однажды старик подарил ему целую корзину.",
        ],
        [
            "Маша пошла в лес за грибами.",
            "Она заблудилась и встретила доброго медведя.",
            "Медведь проводил её до самого дома.",
        ],
    ],
    "uk": [
        [
            "Жило-було маленьке кошеня, яке боялося дощу.",
            "Коли надворі йшов дощ, воно ховалося під ліжко.",
            "Одного дня дівчинка подарувала йому маленьку парасольку.",
        ],
        [
            "Тарас дуже хотів навчитися кататися на ковзанах.",
            "Щодня він ходив на замерзле озеро з татом.",
            "Нарешті взимку він проїхав через усе озеро сам.",
        ],
    ],
    "bg": [
        [
            "Имало едно време едно малко мече, което обичало мед.",
            "Всяка сутрин то търсело пчели в гората.",
            "Един ден пчелите го поканили на празник.",
        ],
        [
            "Иван искаше да стане пилот.",
            "Той направи самолет от хартия и го пусна от балкона.",
            "Самолетът полетя чак до съседната улица.",
        ],
    ],
    "el": [
        [
            "Μια φορά κι έναν καιρό ζούσε ένα μικρό ψάρι σε μια λίμνη.",
            "Κάθε μέρα κολυμπούσε γύρω από τις πέτρες.",
            "Μια μέρα βρήκε έναν παλιό θησαυρό στον βυθό.",
        ],
        [
            "Η Ελένη είχε ένα κόκκινο ποδήλατο.",
            "Κάθε απόγευμα πήγαινε βόλτα στο πάρκο.",
            "Εκεί γνώρισε έναν καινούργιο φίλο.",
        ],
    ],
    "ar": [
        [
            "كان يا ما كان، كان هناك أرنب صغير يحب الجزر.",
            "كل صباح كان يذهب إلى حديقة المزارع.",
            "وفي يوم من الأيام وجد جزرة كبيرة جدا.",
        ],
        [
            "كانت ليلى تحب النظر إلى النجوم.",
            "في كل ليلة كانت تجلس عند النافذة.",
            "وذات ليلة رأت نجمة تسقط في الحديقة.",
        ],
    ],
    "fa": [
        [
            "روزی روزگاری یک خرگوش کوچک در جنگل زندگی می‌کرد.",
            "او هر روز با دوستانش بازی می‌کرد.",
            "یک روز یک لاک‌پشت پیر را دید.",
        ],
        [
            "سارا یک بادبادک قرمز داشت.",
            "او هر عصر در پارک بادبادک هوا می‌کرد.",
            "باد بادبادک را تا ابرها برد.",
        ],
    ],
    "he": [
        [
            "פעם היה ארנב קטן שאהב גזר.",
            "כל בוקר הוא הלך לגינה של החוואי.",
            "יום אחד הוא מצא גזר ענק.",
        ],
        [
            "נועה רצתה כלב קטן.",
            "ביום ההולדת שלה היא קיבלה קופסה גדולה.",
            "בתוך הקופסה ישב גור חמוד.",
        ],
    ],
    "hi": [
        [
            "एक समय की बात है, एक छोटा सा खरगोश जंगल में रहता था।",
            "वह हर सुबह गाजर खाने बगीचे में जाता था।",
            "एक दिन उसे एक बड़ा कछुआ मिला।",
        ],
        [
            "मीरा को पतंग उड़ाना बहुत पसंद था।",
            "हर शाम वह छत पर अपने भाई के साथ जाती थी।",
            "एक दिन उसकी पतंग बादलों तक पहुँच गई।",
        ],
    ],
    "th": [
        [
            "กาลครั้งหนึ่งนานมาแล้ว มีกระต่ายน้อยตัวหนึ่งอาศัยอยู่ในป่า",
            "ทุกเช้ามันจะไปกินแครอทในสวน",
            "วันหนึ่งมันพบเต่าตัวใหญ่",
        ],
        [
            "น้องมะลิชอบวาดรูปมาก",
            "ทุกวันเธอวาดรูปดอกไม้ให้คุณยาย",
            "คุณยายยิ้มและเก็บรูปไว้ทุกใบ",
        ],
    ],
    "zh": [
        [
            "从前，有一只小兔子住在森林里。",
            "每天早上，它都去菜园里找胡萝卜。",
            "有一天，它遇到了一只大乌龟。",
        ],
        ["小明有一个红色的气球。", "他带着气球去公园玩。", "一阵风把气球吹到了天上。"],
    ],
    "ja": [
        [
            "むかしむかし、森に小さなうさぎが住んでいました。",
            "毎朝、うさぎは畑へにんじんを探しに行きました。",
            "ある日、うさぎは大きなかめに会いました。",
        ],
        [
            "はなちゃんは赤い風船を持っていました。",
            "公園で風船と一緒に遊びました。",
            "すると、風が風船を空へ運んでいきました。",
        ],
    ],
    "ko": [
        [
            "옛날 옛적에 숲속에 작은 토끼가 살았어요.",
            "토끼는 매일 아침 당근을 찾으러 밭에 갔어요.",
            "어느 날 토끼는 큰 거북이를 만났어요.",
        ],
        [
            "민지는 빨간 풍선을 가지고 있었어요.",
            "민지는 풍선을 들고 공원에 갔어요.",
            "그때 바람이 풍선을 하늘로 데려갔어요.",
        ],
    ],
}
