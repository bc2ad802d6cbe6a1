"""Crisis detection in each category and each regional language: cases that must fire and
cases that must not (short, hand-written unit cases; the generalisation figures come only
from the blind batches in tests/data, measured with bench/crisis_eval.py).

Languages: Indonesian (id), Javanese ngoko and krama (jv), Sundanese (su), Minangkabau
(min), Betawi (bew), Batak (btk), Banjar (bjn), Bugis/Makassar (bug), Madurese (mad),
Balinese (ban), Indonesian-English mixing (mix).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.crisis import CrisisDetector, load_crisis

CONTENT = Path(__file__).resolve().parents[1] / "content" / "id"


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return load_crisis(CONTENT)


FIRE = [
    # language, category, message
    ("id", "suicide", "aku udah capek banget, rasanya pengen ngilang selamanya dari dunia ini"),
    ("id", "suicide", "udah aku putusin, minggu depan aku mau pergi dan gak akan balik lagi"),
    ("id", "suicide", "tolong jagain kucingku ya, aku titip dia. aku gak akan lama lagi di sini"),
    ("id", "suicide", "semua barang kesayanganku udah aku kasih ke temen2"),
    ("id", "suicide", "racun serangga udah aku siapin di kamar, nanti malam aku minum"),
    ("id", "suicide", "aku lagi berdiri di pinggir rel, keretanya bentar lagi lewat"),
    ("id", "suicide", "obat tidur udah aku kumpulin dari sebulan lalu, ada 30 butir"),
    ("id", "suicide", "aku cuma nyusahin semua orang, mereka pasti lebih bahagia tanpa aku"),
    ("id", "suicide", "maaf ya ma, makasih untuk semuanya. selamat tinggal"),
    ("id", "suicide", "kayaknya udah waktunya aku uninstall dari dunia ini"),
    ("id", "self_harm", "tadi aku nyilet lengan lagi, darahnya banyak banget"),
    ("id", "self_harm", "udah 3 bulan clean tapi semalem relapse lagi pake cutter"),
    ("id", "self_harm", "aku sengaja bakar tanganku pake korek biar lega"),
    ("id", "violence", "aku pengen nusuk bosku pake pisau besok pagi"),
    ("id", "violence", "tiap bayiku nangis aku kepikiran buat nutup mulutnya sampe diem"),
    ("id", "violence", "kadang kepikiran lempar bayiku dari jendela"),
    ("id", "abuse", "suamiku mukulin aku lagi semalem, mukaku lebam"),
    ("id", "abuse", "aku TKW di taiwan, paspor disita agensi dan gak boleh keluar rumah"),
    (
        "id",
        "abuse",
        "adikku yang sakit jiwa dirantai kakinya di kandang belakang rumah sejak setahun",
    ),
    ("id", "abuse", "pamanku sering pegang2 dadaku kalau rumah sepi"),
    ("id", "psychosis", "ada suara di kepalaku yang nyuruh aku lompat dari jendela"),
    ("mix", "suicide", "thank u for everything guys, sorry for being a burden. see u never"),
    ("mix", "self_harm", "i just burned my arm pake korek lagi, perih tp lega"),
    ("jv", "suicide", "aku wis ora kuat urip, pengin mati wae"),
    ("jv", "suicide", "kula sampun mboten kiat gesang, badhe nyusul simbah"),
    ("jv", "suicide", "aku wis tuku racun tikus, mengko bengi tak ombe"),
    ("jv", "self_harm", "aku ngiris tanganku meneh, getihe metu akeh"),
    ("jv", "abuse", "bojoku nggebuki aku saben bengi"),
    ("jv", "psychosis", "ana swara sing ngongkon aku mateni wong"),
    ("su", "suicide", "abdi hayang paeh wae, tos teu kuat hirup"),
    ("su", "suicide", "urang rek luncat ti sasak engke peuting"),
    ("su", "abuse", "abdi sok digebugan ku salaki"),
    ("min", "suicide", "ambo lah indak talok iduik, nio mati sajo"),
    ("min", "abuse", "ambo dipukua laki ambo tiok malam"),
    ("bew", "suicide", "gue udeh kagak kuat idup, pengen mati aje"),
    ("bew", "abuse", "laki aye ngegebukin aye tiap ari"),
    ("btk", "suicide", "nunga loja au mangolu, naeng mate au"),
    ("btk", "suicide", "aku udah tak sanggup lagi lae, mau minum racun aja"),
    ("bjn", "suicide", "ulun kada kawa lagi hidup, handak mati haja"),
    ("bjn", "violence", "kakak ulun handak manabas abah pakai parang"),
    ("bug", "suicide", "de na ulle ka, elo ka mate"),
    ("bug", "suicide", "sa tidak kuat mi hidup, mau mati mi saja kodong"),
    ("mad", "suicide", "sengko tak kowat odi, terro mate bhai"),
    ("mad", "abuse", "sengko e pokol lakeh tiap malem"),
    ("ban", "suicide", "tiang sing nyidaang idup buin, makeneh mati dogen"),
    ("ban", "abuse", "tiang sai kasagur teken kurenan tiange"),
    # what a message does, not a listed phrase: a letter to be read later, absolving,
    # the calm of a decision, care and debts arranged, things given away, a religious
    # farewell, waiting for a train; starving as self-punishment; a fight with weapons
    # and blood; touching by a close adult, hiding bruises; delusions with a weapon
    ("id", "suicide", "kalau kalian baca ini nanti, aku udah tenang. jangan nyalahin diri ya"),
    ("id", "suicide", "bukan salah ibu kok. aku cuma capek. tolong jagain kucingku"),
    (
        "id",
        "suicide",
        "cicilan ke koperasi udah aku lunasin semua, pin atm aku tulis di dompet. "
        "sekarang udah beres",
    ),
    ("id", "suicide", "hp sama motor udah aku kasih ke adik, aku udah ga butuh lagi. titip ibu ya"),
    ("id", "suicide", "udah sholat taubat, semoga Allah ampuni aku. malam ini aku pamit"),
    (
        "id",
        "suicide",
        "aku di peron, nunggu kereta yang lewat. belum berani tapi mungkin sebentar lagi",
    ),
    ("id", "self_harm", "aku sengaja ga makan 3 hari, ini hukuman buat diri sendiri"),
    ("id", "violence", "ada tawuran di depan gang, ada yang kena celurit, darah di mana2"),
    ("id", "abuse", "om aku suka pegang2 aku kalau mama lagi kerja, aku takut"),
    (
        "id",
        "abuse",
        "aku pake baju lengan panjang terus biar memar bekas pukulan suami ga keliatan",
    ),
    (
        "id",
        "psychosis",
        "ayahku bilang dia dipilih Tuhan, udah seminggu ga tidur, sekarang bawa golok keliling",
    ),
    ("ban", "suicide", "meme, ampurayang tiang nggih. tiang sube sing kuat, pianak tiange titip"),
    ("ban", "abuse", "paman tiange demen ngusudin tiang yen meme sing jumah, tiang jejeh"),
    ("bug", "self_harm", "pura ku sayat limaku wenni, de ulle upaja"),
    ("bug", "abuse", "lakkaiku natampeleng ka ri bola, nasepa ka"),
    ("btk", "violence", "nunga huboan piso, molo ro ibana tu jabu hubunu ibana"),
    (
        "btk",
        "psychosis",
        "inang nunga 2 minggu dang modom, mangkatai sandiri, ninna adong begu mangihuthon",
    ),
    ("mad", "suicide", "sateya engko e tengnga jembatan, engko la mantep"),
    ("mad", "violence", "bada carok e kampong, oreng nyaba clurit, sateya gi e lorong"),
    (
        "bjn",
        "suicide",
        "makasih pian sudah mandangarakan ulun. mulai isuk ulun kada bapandir lagi, salawasnya",
    ),
    ("min", "suicide", "kok ambo alah indak ado, tolong jago amak ambo yo"),
    ("min", "violence", "urang kampuang bakumpua, nio mamukua maliang tu sampai badarah"),
    # sleeping for ever, in the regional words for sleep and for ever
    ("bjn", "suicide", "ulun handak guring salawasan haja, kada usah bangun lagi"),
    ("su", "suicide", "hoyong saré salawasna, tong aya deui isuk"),
    # better if I did not exist, said in Banjar
    ("bjn", "suicide", "ulun cuma babanan, labih baik ulun kadada haja"),
    # self-harm: head against the wall, starving on purpose
    ("min", "self_harm", "kalau ambo berang ambo hantam kapalo ka dindiang"),
    ("jv", "self_harm", "aku sengaja ora mangan rong dino ben awakku lara"),
    # abuse told in English words; a threat for tonight
    ("mix", "abuse", "my boyfriend chokes me when he's drunk, aku takut pulang"),
    ("bew", "violence", "malem ini gue samperin die, biar die tau rasa"),
    ("id", "violence", "aku kepikiran naro sesuatu di makanan suamiku, tiap hari makin kepikiran"),
    ("id", "abuse", "suamiku nampar lagi tadi pagi, aku sembunyi di rumah tetangga"),
    ("mix", "self_harm", "i scratch my arms till they bleed whenever i feel numb"),
    # crisis round 7: Banyumasan "nyong" is "I" (it was read as ny- + "song", a lyrics frame);
    # a weapon made ready and a revenge or an ambush named, in Indonesian, Banjar and Bugis
    ("jv", "suicide", "nyong wis nyimpen obat turu akeh nang lemari, kari nunggu wani tok"),
    ("id", "violence", "gue udah beli pisau. besok gue tungguin tuh orang yang ngebully adek gue"),
    (
        "bjn",
        "violence",
        "ulun handak manatak urang nang mambawa lari bini ulun. parang sudah ulun asah",
    ),
    ("bug", "violence", "sa sudah siap badik. orang yang kasi malu keluarga ku harus ku balas"),
    ("kpg", "suicide", "beta su cape idop, skarang beta mo minum racun"),
    # past words that are not a story of recovery: it happens now
    ("id", "abuse", "suamiku dulu baik, sekarang dia suka mukul aku"),
    ("id", "abuse", "dulu aku dipukuli suami, sekarang masih, tadi malam dia mukul lagi"),
    # schoolwork named with "aku" is still the resident's own trouble
    ("id", "suicide", "skripsi aku gak kelar2, aku pengen bunuh diri"),
    ("id", "suicide", "tugas aku numpuk, aku pengen mati aja"),
]

# signs that sit beside words of a frame (a hypothetical, a question, a game, a term, a
# place called Barito): frames that were tried for hard negatives and dropped because they
# silenced these
NOT_SILENCED = [
    ("id", "suicide", "kalau suatu hari aku gak ada, tolong jagain ibu ya"),
    ("id", "suicide", "kalau suatu saat aku pergi selamanya, jangan sedih"),
    ("id", "suicide", "mama tanya apa aku baik2 aja, padahal aku pengen bunuh diri"),
    ("id", "suicide", "kalau suatu hari aku nekat bunuh diri, itu bukan salah kalian"),
    ("id", "suicide", "aku gak tau istilah lainnya, pokoknya aku pengen mati"),
    ("id", "suicide", "aku di barito, pengen bunuh diri aja"),
    ("id", "suicide", "ngajarin murid tiap hari capek, pengen mati aja"),
    ("id", "suicide", "aku capek main game terus kalah, pengen mati aja"),
    ("id", "suicide", "susah jelasin tanda2nya, pokoknya aku pengen mati"),
    ("mix", "suicide", "i dont know how to ask someone about it but i want to kill myself"),
    # beside words added as frames in the session of 2026-12-03 (fourth): a preacher's words,
    # a religion's view, "lebay", Malay "sihat", Sundanese "warta", "kalau teman ada yang …"
    ("id", "suicide", "kata ustadz harus sabar, tapi aku udah gak kuat, pengen mati aja"),
    ("id", "suicide", "pandangan agama aku tau dosa, tapi aku tetap pengen bunuh diri"),
    ("id", "suicide", "aku lebay ya? tapi aku beneran pengen mati"),
    ("mly", "suicide", "dulu aku sihat, sekarang aku nak mati je"),
    ("id", "suicide", "ada warta di tv, terus aku kepikiran pengen gantung diri juga"),
    ("id", "suicide", "gak tau istilahnya apa, pokoknya pengen mati aja"),
    ("id", "suicide", "kalau teman ada yang nanya, bilang aja aku udah pergi jauh, makasih"),
]
FIRE += NOT_SILENCED
FIRE += [
    # Melayu Timur: Manado "kita" = aku, Ambon "beta", negations nyanda and seng
    ("mdo", "suicide", "kita so nyanda kuat, kita mo mati jo"),
    ("amb", "suicide", "ose seng tau, beta su mau pigi jauh, beta mau mati sa"),
    ("mdo", "abuse", "kita pe mama dapa pukul papa tadi malam"),
    ("kpg", "suicide", "beta su sonde kuat lai, beta mau mati sa"),
    ("pap", "suicide", "sa su tra kuat, sa mau bunuh diri saja"),
    ("id", "suicide", "aku pengen kms aja"),
    ("id", "suicide", "kamu orang terakhir yang aku ajak bicara"),
    ("id", "self_harm", "aku udah bersih 3 hari dari nyilet tapi malam ini pengen nyilet lagi"),
    # crisis round 8: a relapse after recovery, a negation before the relapse
    (
        "id",
        "suicide",
        "dulu pernah pengen bunuh diri, udh sembuh 2 tahun. tapi sekarang kambuh lagi",
    ),
    ("id", "self_harm", "aku udh 8 bulan ga nyakitin diri. kemaren aku ngelakuin lagi"),
    ("kpg", "self_harm", "dulu beta pernah lukai diri, su lama sonde. tapi kemarin beta bikin lai"),
    # a helper who is in danger, or who names danger now, is still heard
    ("id", "suicide", "saya kader, ada warga mau gantung diri malam ini, gimana?"),
]

# a wall punched until it bleeds, a relapse after days clean, an elder pushed down, "done"
# after payday
FIRE += [
    ("id", "self_harm", "aku tonjok dinding sampai berdarah tiap kesel"),
    ("id", "self_harm", "udah 45 hari bersih, semalem kumat lagi. kecewa sama diri sendiri"),
    ("id", "abuse", "nenek didorong sampai jatuh sama om, sekarang gak bisa jalan"),
    ("bew", "suicide", "abis gajian ini gue udahan, yang penting utang udeh lunas"),
    # a dead parent calling in a dream; a self-harm urge after a month without
    ("id", "suicide", "tiap malam almarhum ayah datang di mimpi, ngajak aku. aku pengen ikut"),
    ("id", "self_harm", "udah dua minggu gak nyakitin diri tapi malam ini pengen banget"),
    ("mix", "self_harm", "skipped meals for three days, punishing myself for failing"),
    # a high bridge sought and "don't ask what for"; saved-up medicine
    ("id", "suicide", "lagi nyari jembatan paling tinggi di kota ini. jangan tanya buat apa"),
    ("mix", "suicide", "i've been saving my meds for weeks instead of taking them"),
    # intrusive thoughts of harming the baby
    ("mix", "violence", "i keep having thoughts of shaking my baby when she cries at night"),
]

WORD_CLASSES = [
    # caught by word classes alone (no classifier): psychosis as perceptions of what is not
    # there, thoughts broadcast or read, commands, nights without sleep counted in words;
    # a language's own words for hand, wages, months, chains, under the house, a cow shed;
    # a farewell that says "do not cry for me" and "it ends here"
    (
        "id",
        "psychosis",
        "aku yakin pikiranku bisa dibaca orang lewat hp, di radio mereka "
        "ngomongin aku. aku takut keluar",
    ),
    (
        "id",
        "psychosis",
        "tiap malam aku lihat sosok di pojok kamar, dia ngomong ke aku. udah 4 "
        "hari aku nggak bisa tidur",
    ),
    (
        "su",
        "psychosis",
        "abdi ngadenge sora ti luar, cenah abdi kudu dihukum. tos tilu wengi teu tiasa sare",
    ),
    (
        "bew",
        "psychosis",
        "aye liat orang item berdiri di depan pintu, die ngomong terus. udeh "
        "lima ari aye kaga tidur",
    ),
    (
        "bjn",
        "psychosis",
        "tiap malam ulun mandangar suara bapandir di kapala, ulun dikirimi guna-guna urang",
    ),
    ("ban", "psychosis", "tiang ngenah jelema sing ada di kamar, ia ngorain tiang mati"),
    ("min", "self_harm", "ambo acok garuik lengan sampai badarah, indak bisa baranti"),
    ("ban", "self_harm", "tiang ngae luka di batis nganggon silet, apang sakit atine ilang"),
    ("min", "abuse", "laki ambo manampa muko ambo, kini muko ambo bangkak"),
    ("bug", "abuse", "bosku de'na nawereng gaji lima uleng, iya makkareso ri Saudi"),
    ("bug", "abuse", "amboku dirante ri yawa bola pura dua taung"),
    ("mad", "abuse", "tretan engko eparante e kandhang, la tello taon"),
    ("btk", "suicide", "santabi ma au amang, unang tangisi au. nunga sahat tu son"),
    ("bug", "suicide", "labi makessing mate mi iyya, de'na ulleka"),
    # water or the dead "calling"; regional words for cutting, wounds and arms; poisoning
    # delusions with running out undressed
    ("id", "suicide", "dari tadi aku berdiri di pinggir sungai, airnya kayak manggil aku"),
    ("bjn", "suicide", "ulun di pinggir sungai wayah ini, banyunya kaya mangiyau ulun"),
    ("min", "self_harm", "ambo manyayek lengan baliak, alah ndak tahan ambo"),
    ("mad", "self_harm", "alè' engko' lengenna bânnya' loka sayatan, engko' tako"),
    (
        "id",
        "psychosis",
        "ibuku yakin tetangga mau ngeracun dia, tadi lari keluar rumah tanpa baju sambil "
        "ngomong sendiri",
    ),
    # a digital farewell, not living to a date, quitting life like a game
    (
        "id",
        "suicide",
        "semua fotoku udah aku hapus, grup alumni aku keluarin satu satu. tinggal nunggu malam",
    ),
    ("id", "suicide", "aku nggak bakal sampai lebaran, udah aku atur semuanya"),
    ("mix", "suicide", "gue mau quit from life aja, udah capek"),
    # ashamed and laughing, but with a plan: still asked about
    ("id", "suicide", "malu banget wkwk, pengen mati aja, tali udah aku siapin di kamar"),
    # giving things away and needing nothing any more
    ("id", "suicide", "hp sama laptopku udah aku kasih ke adik, aku udah gak butuh apa apa lagi"),
    # following a parent who has died (Madurese)
    ("mad", "suicide", "eppa' la tadha', sengko' terro noro' eppa'"),
    # a long rest, and "you know what I mean"
    ("id", "suicide", "pengen istirahat yang panjang aja, kamu ngerti kan maksudku"),
    # a roof, and only the courage missing; a time when everyone sleeps and "do not reply"
    ("id", "suicide", "atap gedung parkir itu sepi. aku udah sering naik, tinggal nunggu berani"),
    ("id", "suicide", "jam 2 nanti pas semua udah tidur. udah aku siapin, gak usah dibales"),
    # things handed to the family, so that the debt is settled
    ("id", "suicide", "laptop buat adik, motor buat bapak. abis itu aku gak ngerepotin siapa2"),
    # a weapon ready and a threat for tomorrow
    ("id", "violence", "golok udah aku taruh di motor. besok aku gak jamin dia pulang utuh"),
    # God's voice forbidding food
    ("id", "psychosis", "tuhan bilang aku gak boleh makan sampai dia kasih tanda"),
    # Minang and Banjar everyday words: cut (karek, hiris), give (agiah, bariakan), need
    # (paralu, parlu), chose the day, farewell, a burden to parents (gaek, kuitan), bear
    ("min", "self_harm", "ambo karek lengan jo piso baliak, darahnyo banyak"),
    ("min", "suicide", "hp jo cincin alah den agiah ka adiak, den indak paralu lai"),
    ("min", "suicide", "alah ambo piliah harinyo, salamaik tingga amak"),
    ("min", "suicide", "ambo cuma manyusahan urang gaek"),
    ("bjn", "self_harm", "tadi malam ulun hiris tangan lagi pakai lading"),
    ("bjn", "suicide", "hp ulun sudah ulun bariakan gasan ading, ulun kada parlu lagi"),
    ("bjn", "suicide", "ulun cuma manyusahakan kuitan"),
    ("bjn", "suicide", "ulun sudah kada taharit lagi, salamat tinggal pang"),
    ("bjn", "suicide", "ulun handak tajun matan jambatan wayahini"),
    # talking with someone who is not there, a knife in hand, told to: "orang yang" inside
    # the cue phrase is no talk about the topic
    (
        "id",
        "psychosis",
        "adikku dari semalam ngobrol sama orang yang gak ada, sekarang dia pegang pisau dan "
        "bilang ada yang nyuruh",
    ),
    # the one who wronged a relative, sought out with a weapon tonight
    (
        "id",
        "violence",
        "aku udah tau rumah orang yang nipu ibuku. nanti malam aku ke sana bawa golok",
    ),
]
FIRE += WORD_CLASSES

EVERYDAY_WORDS = [
    # everyday regional words mapped to the Indonesian ones the phrases and cue classes use
    # (Batak "nga" = already, "hupasahit" = kusakiti, "ingkon" = harus; Bugis "ritampeleng"
    # = ditampar, "mappakasussa" = menyusahkan, "inrang" = utang)
    ("btk", "self_harm", "nga hupasahit dirihu muse, maila au"),
    ("btk", "self_harm", "nga muse hubugangi tanganku borngin, ndang tartahan au"),
    ("btk", "suicide", "ingkon hupamate dirihu, ndang tartahan be"),
    ("btk", "psychosis", "begu i marhussip, ingkon hupamate amanghu"),
    ("btk", "abuse", "dipalu amang au sian kecil, nuaeng pe muse dipaluhi"),
    ("bug", "abuse", "ritampeleng ka lakkaiku wenni, engka dara"),
    ("bug", "psychosis", "setang makkeda harusu kupakapeddi indoku"),
    ("bug", "suicide", "iya' bawang mappakasussa tomatoakku, maelo mate ka"),
    ("btk", "suicide", "naeng marujung ngolu au, loja nai"),
    ("bug", "abuse", "lakkaiku napeppe ka, maddara ka"),
]
FIRE += EVERYDAY_WORDS
# everyday words of Balinese, Madurese and Betawi mapped to the lexicon's words: wanting,
# following the dead, stopping, leaving for good, the last message, the head, must
VOCABULARY = [
    ("ban", "suicide", "tiang dot mati dogen, sing nyak idup buin"),
    ("ban", "suicide", "meme sube ngalahin, tiang dot nututin meme"),
    ("ban", "suicide", "ene pabesen tiange ane kaping untat"),
    ("ban", "psychosis", "munyi di sirah tiange nunden tiang makecos uli titi"),
    ("ban", "self_harm", "tiang ngerat lima tiange buin peteng ibi"),
    ("ban", "abuse", "somah tiange nigtig tiang tiap peteng"),
    ("mad", "suicide", "engkok terro tedhung saterrosa bhai"),
    ("mad", "suicide", "otang engkok la bannya'. lagghu' engkok ta' e dinna' pole"),
    ("mad", "self_harm", "engkok ngeret lengen dhibi' pole, dhara bannya'"),
    ("mad", "abuse", "ana' engkok epokol lakeh engkok"),
    ("bew", "self_harm", "tiap ribut ame laki gue jedotin pala ke tembok"),
    ("bew", "suicide", "gue pengen tidur selamenye aje, kagak usah bangun"),
    ("bew", "abuse", "aye digaplok mertue aye lagi di dapur"),
]
FIRE += VOCABULARY

QUIET = [
    # crisis round 8: a hoped-for "no relapse", a helper's question about someone else
    (
        "id",
        "past",
        "dulu aku pernah pengen bunuh diri, tapi sekarang udah sembuh, semoga ga kambuh lagi",
    ),
    (
        "mdo",
        "helper",
        "kita kader kesehatan, ada warga bilang dia mo mati jo. bagimana kita musti bicara?",
    ),
    (
        "amb",
        "helper",
        "beta relawan di gereja. ada nyong bilang dia su seng mau idop. beta musti bilang apa?",
    ),
    # language, frame, message
    (
        "id",
        "news",
        "berita hari ini: seorang pria bunuh diri di jembatan, polisi masih menyelidiki",
    ),
    ("id", "lesson", "tugas sekolah: jelaskan faktor risiko bunuh diri pada remaja"),
    ("id", "hypothetical", "kalau ada murid yang bilang pengen mati, guru harus gimana?"),
    ("id", "lyrics", "lagi dengerin lagu yang liriknya aku ingin mati saja, sedih banget"),
    ("id", "past", "dulu aku pernah self harm, sekarang udah 2 tahun clean dan baik2 aja"),
    ("id", "negated", "aku gak pernah kepikiran bunuh diri kok, cuma capek kerja"),
    ("id", "means", "beli racun tikus buat gudang, tikusnya banyak banget"),
    ("id", "means", "tali jemuran putus lagi, baju jatuh semua"),
    ("id", "means", "besok naik kereta jam 7, jangan sampai telat"),
    ("id", "means", "aku beli obat flu di apotek, diminum 3 kali sehari"),
    ("id", "means", "obatnya udah aku beli, tinggal minum nanti malam"),
    ("id", "hyperbole", "mati aku, lupa ngerjain pr"),
    ("id", "ordinary", "pamit dulu ya kak, mau tidur"),
    ("id", "ordinary", "makasih ya kak udah dengerin, aku udah lebih lega sekarang"),
    ("id", "ordinary", "aku kerja di lantai 20, liftnya rusak"),
    ("id", "ordinary", "kucingku dirantai di kandang biar gak kabur"),
    ("id", "ordinary", "suara tetangga berisik banget, gak bisa tidur"),
    ("id", "ordinary", "suara hatiku bilang aku harus pindah kerja"),
    ("id", "ordinary", "anak2 loncat dari perahu ke laut, seru"),
    ("id", "ordinary", "tanganku keiris pisau waktu masak"),
    ("mix", "past", "used to self harm in high school, been clean for 3 years now"),
    ("mix", "lyrics", "this song literally says i wanna die tp beatnya enak"),
    ("jv", "negated", "aku ora kepikiran nglalu kok, mung kesel"),
    ("jv", "past", "mbiyen aku tau pengen mati, saiki wis apik"),
    ("jv", "ordinary", "sesuk aku numpak sepur nang jakarta"),
    ("jv", "religion", "pas pengajian wingi, pak ustadz ngendika nglalu niku dosa ageng"),
    ("su", "negated", "abdi teu kapikiran bunuh diri, ngan cape wungkul"),
    ("su", "ordinary", "abdi cape pisan poe ieu, hoyong sare"),
    ("min", "negated", "ambo indak ado niaik mambunuah diri doh"),
    ("bew", "negated", "kaga, gue kaga mau bunuh diri"),
    ("btk", "ordinary", "lelah kali aku lae, kerja sampe malam"),
    ("bjn", "negated", "ulun kada handak bunuh diri pang"),
    ("bug", "negated", "tidak ji, sa tidak mau bunuh diri"),
    ("mad", "negated", "enjek, engko ta terro mate"),
    ("ban", "negated", "nenten, tiang nenten wenten pikiran bunuh diri"),
    ("ban", "ordinary", "tiang kenyel gati dina jani"),
    # the same word classes in everyday use, deaths told as news, stories and lessons
    (
        "id",
        "past",
        "dulu aku pernah pengen mati waktu di-phk, sekarang udah kerja lagi alhamdulillah",
    ),
    (
        "id",
        "news",
        "berita tadi pagi: warga ditemukan tewas gantung diri di kebun, polisi menyelidiki",
    ),
    ("id", "death", "tetanggaku yang meninggal bunuh diri kemarin, gimana cara menghibur anaknya?"),
    ("id", "ordinary", "baju lama anakku udah kekecilan, mau aku kasih ke tetangga"),
    ("id", "ordinary", "hp lama aku jual, udah ga kepake"),
    ("id", "ordinary", "utang motor udah lunas, lega banget"),
    ("id", "ordinary", "kereta lewat terus dari tadi, aku nunggu jemputan di peron"),
    ("id", "ordinary", "makasih ya kak udah dengerin, aku pamit dulu"),
    ("id", "hyperbole", "mati aku, lupa bawa laptop ke kantor"),
    ("id", "film", "di film itu tokohnya loncat dari gedung, serem banget"),
    ("id", "folk", "dongeng malin kundang dikutuk ibunya jadi batu"),
    ("id", "ordinary", "tawuran pelajar di berita bikin aku khawatir sama anakku"),
    ("ban", "ordinary", "tiang pamit dumun nggih, lakar ke pura"),
    ("ban", "past", "ipidan tiang taen makeneh mati, nanging jani sube becik"),
    ("bug", "ordinary", "lokka ka dolo ri pasa, terima kasih"),
    ("btk", "ordinary", "mauliate ma lae, au lao tu pesta"),
    ("mad", "ordinary", "engko pamit gellu, sakalangkong"),
    ("bjn", "lesson", "ulun guru, handak manjelasakan ka murid soal bahaya manyakiti diri"),
    ("min", "folk", "kaba malin kundang tu sadiah bana"),
    # ashamed and laughing in a short message: a figure of speech, in each language
    ("id", "embarrassed", "malu banget kepleset di depan kelas, pengen mati aja wkwk"),
    ("jv", "embarrassed", "isin aku salah kirim chat, pengen mati wae wkwk"),
    ("su", "embarrassed", "era pisan abdi labuh di pasar, hayang paeh wae haha"),
    ("min", "embarrassed", "malu ambo salah panggia namo guru, nio mati se wkwk"),
    # a teacher asking, a prayer, regional negations, the same word classes in daily life
    ("id", "helper", "saya guru, gimana pendekatannya kalau curiga murid self harm?"),
    ("id", "prayer", "semoga kita semua meninggal dalam keadaan husnul khatimah"),
    ("ban", "negated", "tiang sing ja lakar ngulah pati, tiang kenyel gen"),
    ("bew", "negated", "aye kaga ade niat ngabisin nyawa, cuma lagi capek aje"),
    ("id", "ordinary", "sudah tiga hari nggak bisa tidur karena bayiku rewel"),
    ("id", "ordinary", "aku lihat bayangan di kaca, ternyata kucing"),
    ("bug", "ordinary", "pura tellu uleng makkareso ri Malaysia, gajiku madeceng"),
    ("bew", "ordinary", "aye kudu gimane biar die kagak sedih lagi?"),
    ("id", "ordinary", "ibu manggil aku dari dapur, katanya makan dulu"),
    ("id", "ordinary", "chat lama udah aku arsip semua biar hp nggak lemot"),
    ("id", "ordinary", "sudah aku putuskan, tahun depan aku kuliah lagi"),
    ("id", "helper_question", "bagaimana cara ngomong soal bunuh diri ke warga tanpa bikin takut?"),
    (
        "id",
        "helper_question",
        "saya guru bk, mau jelasin ke murid tanda2 orang yang mau bunuh diri, kalimat apa yg aman?",
    ),
    ("id", "game", "karakterku di game harus minum racun biar bisa lanjut level"),
    ("mix", "game", "my character died again, this boss is impossible lol"),
    ("bjn", "negated", "kada ada pikiran ulun handak mati, cuma capek gawian"),
    ("su", "news", "aya béja budak SMP bunuh diri, sedih pisan"),
    ("mad", "sermon", "kyai nyarios bunuh diri reya dosa rajah"),
    ("ban", "everyday_means", "tiang numbas racun bikul anggen ring jineng"),
    ("id", "ordinary", "nenek sudah tidur selamanya, semoga tenang di sana"),
    ("mix", "helper_question", "how do i ask someone about suicidal thoughts kindly?"),
    ("id", "ordinary", "hari ini aku pamitan sama teman kantor, pindah kerja ke bandung"),
    ("id", "negated", "aku gak pernah pengen nyakitin diri sendiri"),
    ("mix", "past_resolved", "used to self harm in 2018, clean 6 years now and proud of it"),
    ("id", "everyday_means", "aku bakar sampah di belakang rumah tadi sore"),
    ("bew", "work", "gue kerja di proyek gedung, tiap hari manjat, capek bener"),
    ("amb", "negated", "beta seng mau mati, beta cuma cape deng kerja"),
    ("mdo", "negated", "kita nyanda mo bunu diri, cuma mo cerita deng ngana"),
    ("mdo", "ordinary", "torang pigi ka pasar dulu, mace mo bali ikan"),
    ("kpg", "negated", "beta sonde mau mati, beta cuma cape deng kuliah"),
    ("pap", "negated", "sa tra pernah pikir bunuh diri, sa cuma mau cerita"),
    ("id", "ordinary", "atap seng rumah bocor, aku pengen pindah aja"),
    # KMS is also the posyandu growth card (Kartu Menuju Sehat), not only "kill myself"
    ("id", "posyandu", "KMS anak saya hilang, bisa minta baru di posyandu?"),
    ("id", "posyandu", "kak, aku baru jadi kader, bingung ngisi KMS"),
    ("id", "past_resolved", "dulu aku sering nyilet, udah 2 tahun bersih, cuma mau cerita"),
    (
        "id",
        "past_resolved",
        "dulu saya pernah dipukul mantan suami, sudah cerai 3 tahun dan hidup tenang",
    ),
]
QUIET += [
    # the same everyday words in ordinary messages
    ("btk", "ordinary", "nga sae ulaonku sadari on, mulak au tu jabu modom"),
    ("btk", "ordinary", "nga hulehon hepeng tu inang, mauliate Tuhan nga gajian"),
    ("btk", "negated", "ndang adong pikiranku naeng hupasahit dirihu, holan loja karejo"),
    ("bug", "ordinary", "kutunu bale ri dapurekku, manre maneng ki"),
    ("bug", "ordinary", "sudahmi kukasih uangnya ke indo, tenangmi perasaanku, lunas mi inrangku"),
    ("bug", "ordinary", "adami gajiku, kukasihmi indo sebagian, besok pulangma ke kampung"),
    ("btk", "bereaved", "nga monding ompung, marsak au"),
    # the same Minang and Banjar words in daily life; Banjar "urang" is people, not "aku"
    ("min", "ordinary", "ambo karek bawang jo piso di dapua, untuak makan malam"),
    ("min", "ordinary", "ambo indak paralu lai payuang tu, agiah ka kawan sajo"),
    ("min", "ordinary", "surek dari kampus alah ambo tarimo, ambo tanang kini"),
    ("bjn", "ordinary", "ulun handak mambariakan oleh-oleh gasan uma"),
    ("bjn", "ordinary", "kuitan ulun tulak ka pasar, ulun guring haja di rumah"),
    ("bjn", "news", "di berita ada urang nang tajun matan jambatan, kasihan keluarganya"),
    # Madurese "are" counted as days of mourning is a day, not a sickle; Balinese "dot" is wanting
    ("mad", "funeral", "lagghu' pettong are bapak seda, tatangga dhateng tahlilan"),
    ("ban", "ordinary", "tiang dot meli baju anyar ring peken, ajak meme"),
    ("bew", "ordinary", "pala aye pusing mikirin kontrakan, mesti bayar besok"),
    # crisis round 7: food on the fire, a burn by accident, a relapse into a habit, a sermon,
    # a game, past and over in eastern Malay and Bugis, a friend's question, a job left
    ("pap", "ordinary", "sa rindu kampung di Wamena, di Jayapura panas skali 😅 kangen ubi bakar"),
    ("kpg", "first_aid", "kaka, cara rawat luka bakar kena minyak goreng bagemana? di tangan"),
    ("mix", "habit", "relapse lagi, udah 20 hari gak ngerokok eh tadi nyebat satu abis sidang"),
    ("mix", "habit", "relapse diet, semalem makan martabak manis satu loyang sendirian 🥲"),
    ("min", "sermon", "buya di masajik mangecek bunuah diri tu dosa gadang, kito musti sabar"),
    ("jv", "sermon", "pengajian mau ustadz ngendika bunuh diri kuwi dosa gedhe"),
    ("mix", "game", "gg bro, gue headshot lo 3x, lo mati konyol wkwk"),
    (
        "bug",
        "past",
        "dulu sa pernah mau akhiri hidup, tapi sudah lama mi itu, sekarang sa baik-baik ji",
    ),
    (
        "mdo",
        "past",
        "kita pe opa dulu pernah mo gantung diri waktu harga cengkeh anjlok. skarang dia so 80 "
        "taong, sehat",
    ),
    ("bew", "past", "engkong cerita jaman dulu orang gila dipasung, sekarang mah kagak boleh lagi"),
    (
        "amb",
        "past",
        "dolo beta pung laki suka pukul, tapi su barenti lama, sakarang katong aman-aman",
    ),
    (
        "bug",
        "past",
        "dulu saudaraku dipasung, tapi tahun lalu mi dilepas, sekarang rajin ji minum obat",
    ),
    ("plm", "past", "abang aku dulu pernah dipasung duo tahun, sekarang dem berobat rutin di RSJ"),
    # schoolwork about the topic, also when "aku/sy" owns it
    ("plm", "lesson", "skripsi aku tentang pasung di Sumsel, ado data dari dinas sosial dak?"),
    ("id", "lesson", "skripsi sy ttg stigma pasung di masyarakat pedesaan, boleh wawancara?"),
    ("btk", "lesson", "tugas PKn disuruh bikin essay tentang KDRT, ada data kasus di Sumut gak?"),
    ("min", "lesson", "tugas sakola anak ambo manulih karangan tantang bahayo KDRT"),
    ("amb", "helper", "kalo ada tamang yang carita mau bunuh diri, katong musti bilang par sapa?"),
    (
        "id",
        "helper",
        "aku mau nanya buat temen, kalo temen curhat pengen mati, aku harus ngomong apa",
    ),
    (
        "id",
        "leaving",
        "pamit ya semua, besok aku pulang kampung buat lebaran. titip kucing ke Rina",
    ),
]


# crisis round 8, parked corpora: a negation with a filler ("ga ada intention buat"), a
# device that "won't come alive" (Sundanese "embung" is "don't want", not any negation),
# slaughtering an animal for a feast, and "topik aku" owning the topic, not the sign
QUIET += [
    (
        "id",
        "negated",
        "nggak kok, aku nggak kepikiran ngakhirin hidup. aku cuma capek bgt lembur terus",
    ),
    (
        "mix",
        "negated",
        "jangan panik ya, aku ga ada intention buat hurt myself, cuma mau curhat soal kerjaan",
    ),
    ("id", "negated", "aku nggak ada rencana buat bunuh diri kok, cuma pengen cerita"),
    ("bjn", "ordinary", "radio ulun kada hidup lagi, di mana tukang servis nang murah?"),
    ("jv", "ordinary", "lampu senter kula mboten urip maneh, kedah tumbas batre"),
    ("id", "ordinary", "besok pagi mau nyembelih kambing buat aqiqah anak aku, ada tips?"),
    ("id", "lesson", "materi penyuluhan, tanda orang yang pengen bunuh diri"),
    ("mdo", "ordinary", "kita nyanda bisa datang besok, ada ibadah kolom di rumah tanta"),
    ("id", "ordinary", "aku abisin makanan di kulkas sebelum mudik besok"),
    ("mly", "negated", "aku tak terfikir nak bunuh diri, cuma penat kerja"),
    ("jv", "past", "aku tau pengen mati pas ning malaysia, saiki wis apik, wis mulih maneh"),
    ("mly", "ordinary", "bulan depan aku tamat sekolah, nak sambung kerja kat Batam"),
    # ashamed with a laughing or cringing emoji instead of "wkwk"
    ("id", "embarrassed", "malu bgt td salah panggil dosen 'mama', pengen ngilang aja 🙈"),
    ("bjn", "embarrassed", "supan banar ulun tadi, tasalah ngaran mertua, handak hilang haja 😂"),
    ("id", "lesson", "pemkab jalanin program bebas pasung, tahun ini ada 12 warga yang dilepas"),
    ("id", "religious", "besok kami diskusi soal bunuh diri menurut agama di pemuda masjid"),
    ("id", "lesson", "anak saya ada tugas kuliah soal kekerasan dalam rumah tangga, ada bukunya?"),
    (
        "id",
        "ordinary",
        "minggu depan aku serah terima jabatan, kunci lemari sama password laptop udah aku"
        " kasih ke penggantiku",
    ),
    (
        "mix",
        "lesson",
        "minggu depan presentasi, topik aku self harm pada remaja, ada jurnal yg gampang?",
    ),
]
FIRE += [
    ("su", "suicide", "abdi embung hirup deui, cape pisan"),
    ("id", "self_harm", "presentasi aku besok, tapi semalem aku self harm lagi"),
    ("id", "violence", "aku mau nyembelih dia malam ini"),
    ("id", "suicide", "aku ada rencana bunuh diri minggu ini"),
    # a wish of one's own after a clause about schoolwork is not talk about the topic
    ("id", "suicide", "tugas sekolah numpuk, rasanya pengen bunuh diri"),
    ("id", "suicide", "pelajaran hari ini susah, pengen mati aja"),
    # Manado "nyanda" (tidak) was also read as ny- + "canda" (a joke, taking the words back)
    ("mdo", "abuse", "kita pe paitua tiap malam pukul pa kita, kita so nyanda bole kaluar rumah"),
    ("mdo", "suicide", "makase ngoni samua slama ini, mulai besok kita nyanda mo ganggu ngoni le"),
    ("id", "violence", "gw udah tau rumahnya, malam ini gw abisin dia"),
    ("mly", "suicide", "aku rasa nak tamatkan hidup aku malam ni"),
    # Javanese "tau" (pernah) is a past word only in a Javanese message, not Indonesian "tahu"
    ("id", "suicide", "akhirnya aku tau tanggal yg pas. ulang tahunku sendiri, biar sekalian"),
    # shame with no laugh is asked about; a laugh does not hide bunuh diri
    ("id", "suicide", "aku malu sama keluarga, pengen mati aja"),
    ("id", "suicide", "malu bgt 🙈 pengen bunuh diri"),
    (
        "id",
        "suicide",
        "hari ini serah terima kerjaan, abis itu aku mau pamit selamanya, semua barangku udah"
        " aku bagi",
    ),
    ("id", "suicide", "topik skripsi aku ga jalan2, aku pengen mati aja"),
]

# crisis round 8, hard negatives: past and over now ("sempet", a recovery word far after the
# sign), a helper's question in the regional languages, a hassle told laughing
QUIET += [
    (
        "id",
        "past",
        "tiga tahun lalu aku pernah nyoba bunuh diri, udah 2 tahun pulih, sekarang aku relawan",
    ),
    ("pap", "past", "dulu sa pu adik pernah dipasung, skarang de su sembuh"),
    (
        "id",
        "past",
        "dua tahun lalu, waktu kena PHK, aku nulis surat perpisahan buat ibu, untung sekarang"
        " udah jauh lebih baik",
    ),
    ("min", "helper", "ambo kader, ado warga nan mangecek nio mati, baa caro mambantunyo?"),
    ("mad", "helper", "engko kader, bada oreng se ngoca terro mate, dharemma carana nolong?"),
    ("jv", "helper", "aku kader, ana warga sing ngomong pengen mati, aku kudu ngomong opo"),
    (
        "id",
        "helper",
        "aku kader posyandu, kalau ada ibu yg bilang pengen mati, langkah pertama apa?",
    ),
    ("id", "hyperbole", "macet 3 jam di tol, pengen terjun aja dari flyover wkwk"),
    ("mix", "hyperbole", "besok presentasi jam 7, kill me now 😂"),
    ("id", "hyperbole", "ujian kalkulus tadi bikin aku pengen gantung diri wkwk"),
    ("jv", "hyperbole", "deadline laporan iki mateni aku rek wkwk"),
]
# … and what they must not hide: abuse told by a helper, a plan behind a laugh, a recovery
# denied, a hassle with no laugh
FIRE += [
    (
        "id",
        "abuse",
        "aku guru SD, ada murid yg tiap hari datang lebam, katanya dipukul bapaknya. aku harus"
        " lapor ke mana?",
    ),
    ("id", "suicide", "ujian besok wkwk, tali udah aku siapin"),
    ("id", "suicide", "deadline numpuk wkwk, obat tidur udah aku kumpulin"),
    ("id", "suicide", "dulu aku pernah nyoba bunuh diri, belum pulih sampai sekarang"),
    ("id", "suicide", "macet parah, aku capek hidup, pengen mati aja"),
    ("id", "suicide", "dulu aku pernah pengen mati, udah sembuh, tapi sekarang kambuh lagi"),
]

# Sasak (Lombok) has its own file: "ndeq" is its "tidak", "mele" its "ingin" (Madurese "beli")
FIRE += [
    ("sas", "suicide", "tiang ndeq kuat malik, mele mate doang"),
    ("sas", "abuse", "semame tiang girang mukul tiang, tiang ndeq bau lalo lekan bale"),
]
QUIET += [
    ("sas", "negated", "tiang ndeq araq pikiran mele mate, cuma lelah begawe"),
    ("sas", "negated", "ndeq bu, tiang ndeq mele nyakitin awak, lelah doang"),
    ("sas", "helper", "bu, tiang kader. mun araq dengan mele mate, ape tiang kerjaang?"),
]
# "tidak pengen hidup" reads only side by side: "seng ada pikiran mau akhiri hidop" denies
QUIET += [
    ("amb", "negated", "beta seng ada pikiran mau akhiri hidop, cuma capek kerja sa"),
    ("bug", "negated", "tidak ada ji niatku bunuh diri kak, cuma mau cerita"),
    ("mad", "negated", "sengko' ta' pèkkèr bunuh diri, pera' lèsso"),
]
FIRE += [("id", "suicide", "aku udah ga pengen hidup lagi, capek")]
# a hypothetical may share its person with the sign ("kalau ada murid dipukul …"); Manado kalu
QUIET += [
    ("id", "hypothetical", "kalau ada anak dipukul senior di asrama, nomor pengaduannya apa?"),
    ("mdo", "hypothetical", "kalu ada tamang bilang mo bunuh diri, torang musti bekin apa?"),
]
FIRE += [("id", "abuse", "ada murid dipukul kakak kelas tiap hari, sekarang dia takut sekolah")]
# regional words of news, recovery and fullness; Ambon "bangong" and "slamanya"
QUIET += [
    ("mly", "past", "dulu aku pernah cube bunuh diri, tapi dah 3 tahun sihat, kerje pun tetap"),
    ("mly", "news", "ade berite budak sekolah terjun jambatan semalam, ngeri kame' dengar"),
    ("su", "news", "aya warta ti Cianjur, aya TKW nu disiksa majikan nepi ka maot"),
    ("sas", "past", "dulu tiang pernah mele mate, laguq mangkin tiang uah senang"),
    ("min", "joke", "mati den dek kanyang, alah tigo piriang 😂"),
]
FIRE += [("amb", "suicide", "beta seng mau bangong lai. mau tidor slamanya sa")]
# Ambon "usi" and "ni" (ini); thanks for all this time and a last chat
FIRE += [("amb", "suicide", "makasi usi su mau dengar beta slama ni. ini chat terakhir dari beta")]
# a preacher's words reported, a religion's view asked for
QUIET += [
    ("mly", "religious", "ustaz kat surau cakap orang bunuh diri tu tak diampun, betul ke?"),
    ("bal", "lesson", "pianak tiang ngae tugas, napi pandangan Hindu indik ulah pati?"),
]
FIRE += [("id", "abuse", "ustadz di pondok mukulin aku pake rotan tiap malam, aku takut balik")]
# a friend's words called "lebay"; "kalau teman ada yang …" is a hypothetical too
QUIET += [
    ("mdo", "joke", "kita pe tamang bilang dia mo gantung diri jo kalo persma kalah, dasar lebay"),
    ("id", "lesson", "kata guru, kalau teman ada yang bilang mau mati, kita harus lapor guru"),
]
# Malay (melayu.yaml): "kamek" is aku, "die" is dia, "bunoh" is bunuh
FIRE += [("mly", "abuse", "laki kamek cakap die nak bunoh kamek kalau kamek lari")]
# a teacher asking for material, and the word itself named
QUIET += [
    (
        "id",
        "helper",
        "aku guru bk. bulan ini ada 3 murid yang ketahuan punya bekas sayatan di tangan. "
        "ada materi yang aman buat kelas 7?",
    ),
    ("id", "lesson", "di kelas boleh gak aku nyebut kata bunuh diri langsung?"),
]
# KMS is also the posyandu's growth card; a farewell letter to pupils; a hanging bridge
QUIET += [
    ("id", "everyday", "bu bidan, besok boleh nimbang tanpa KMS?"),
    ("id", "everyday", "aku nulis surat perpisahan buat murid2 les, aku pindah ngajar"),
    ("id", "everyday", "sy lewat jembatan gantung ke kebun tadi, udah goyang, bisa lapor desa?"),
]
FIRE += [("id", "suicide", "aku pengen kms aja bu bidan")]
# a time ago right after the sign is the past ("… 5 tahun lalu, sekarang sudah …");
# "pergi dulu" is leaving first, not the past
QUIET += [
    ("id", "past", "adikku dipasung 5 tahun lalu, sekarang sudah dilepas dan sehat"),
    ("mad", "past", "tretan sengko' epasung 3 taon kalamarè, sateya la elepas"),
]
FIRE += [("id", "suicide", "pak, aku pamit pergi dulu ya, makasih udah ngerawat aku selama ini")]
# a pronoun another language reads into a word does not hold in a language that lists the
# word: Banjar and Minang "urang" is orang (Sundanese "urang" is still aku)
QUIET += [
    ("ban", "news", "ada habar di tipi urang tajun matan jambatan barito, ngeri banar"),
    ("min", "news", "ambo mambaco barito urang mambunuah diri, sadiah bana ambo"),
]
FIRE += [("su", "suicide", "urang geus teu kuat hirup, hayang paeh wae")]
# the resident named in a later clause is no longer hypothetical; reported in the same clause
# it still is
FIRE += [("id", "suicide", "kalau nanti ada yang nyari, bilang aja aku udah istirahat selamanya")]
QUIET += [("amb", "helper", "beta kader. kalo ada mama bilang 'beta mau mati', musti bilang apa?")]
# Palembang (palembang.yaml): duluk, galak, dewek, kini dem; snoring and clearing brush
QUIET += [
    ("plm", "past", "duluk aku galak nian nyakiti diri dewek pas SMP, tapi kini dem berenti"),
    ("plm", "everyday", "laki aku ngorok keras nian, aku dak pacak tiduk"),
    ("mly", "everyday", "parang aku dah karat, nak beli baru untuk tebas semak kat kebun"),
]
FIRE += [("plm", "suicide", "aku dak galak idup lagi, galo wong dak peduli samo aku")]
# the classifier stays quiet beside a frame only while the resident does not speak of
# themselves after it
FIRE += [
    ("id", "psychosis", "aku ga bisa bedain mana nyata mana mimpi, tadi aku hampir nyebrang tol"),
]
QUIET += [("id", "news", "tadi baca berita soal anak terjun dari jembatan, ngeri banget")]
# laughter at any length is a joke word
QUIET += [("amb", "joke", "kalo beta pung tim volly kalah lai, beta seng mau hidop lai hahaha")]

# Rounds 29–31 released (session of 2026-12-04, second): an everyday use given as a cover
# story ("alesan buat gudang"), a keepsake left behind, a threat that someone "will regret
# it", an upper floor, Balinese "pantiga" (dipukul), Sasak "ngempuk" (memukul), "sediaq"
# (siapkan) and "tindoq" (tidur), Javanese "guwang" (buang), the misspelt "gramoxon"
RELEASED_29_31 = [
    (
        "id",
        "suicide",
        "barusan beli racun tikus sebotol, alasan buat gudang. nanti malem pas semua tidur",
    ),
    ("jv", "suicide", "aku mau tuku baygon, alesan nggo nyamuk. saiki wis tak simpen neng lemari"),
    (
        "id",
        "suicide",
        "semua komik koleksiku udh kubagi ke adek, biar ada kenang-kenangan dari aku. "
        "sekarang aku udh tenang",
    ),
    (
        "id",
        "violence",
        "besok aku bawa pisau ke kampus, anak2 yg ngehina aku selama ini bakal nyesel",
    ),
    ("jv", "suicide", "aku mau munggah loteng, kepikiran mlumpat wae"),
    ("ban", "abuse", "panak tiange sesai pantiga teken bapane, tangisne kadingeh"),
    ("sas", "abuse", "semame ku girang ngempuk aku, kanak pade nangis"),
    ("sas", "suicide", "aku uah sediaq tali leq bale, nunggu kanak-kanak tindoq"),
    ("id", "suicide", "aku udah beli gramoxon, tak taruh di bawah kasur"),
    ("jv", "violence", "bayine arep tak guwang neng kali, aku wis ora kuat"),
    ("mix", "suicide", "pengen sleep and never wake up again, capek bgt"),
]
WORD_CLASSES += RELEASED_29_31
FIRE += RELEASED_29_31
QUIET += [
    ("id", "ordinary_use", "beli racun tikus buat gudang beras, tikusnya udah gede2"),
    ("id", "film", "kamu bakal nyesel kalo ga nonton film ini sampe abis wkwk"),
    ("id", "ordinary", "jemur baju di loteng aja bu, di bawah udah penuh"),
    ("id", "ordinary", "ini foto buat kenang-kenangan wisuda kita ya guys"),
    ("jv", "ordinary_use", "mau aku tuku obat nyamuk nggo kamar, alesan nyamuke akeh"),
    ("ban", "past", "ipidan tiang pantiga teken bapan tiange, nanging jani suba melah"),
]

# everyday uses of a means told as such: the pest doing what pests do, livestock a rope is
# for, a question of where to keep it safe from children, a kite string, a safety rope
QUIET += [
    ("id", "ordinary_use", "aku mau beli racun tikus, gudang padi aku kebak tikus"),
    ("id", "ordinary_use", "aku beli tali buat ngikat kerbau, yg lama putus"),
    ("id", "ordinary_use", "pestisida aku simpen di gudang, yang aman dari anak2 kan?"),
    ("id", "ordinary_use", "aku beli tali layangan buat adek besok"),
    ("id", "ordinary_use", "aku lagi benerin atap, udah pake tali pengaman kok"),
]
# ... while a means kept away from the children for a plan of one's own still fires
NOT_SILENCED += [
    ("id", "suicide", "obat tikus sudah sy simpan, aman dari anak. nanti malam sy minum sendiri")
]
FIRE += NOT_SILENCED[-1:]

# negations over more fillers: Madurese "ta' parnah kapèkkèr", Balinese "sing taen", "bukan
# karena"; a question about it answered no ("aku jawab enggak", "and i said no")
QUIET += [
    ("mad", "negated", "Engko' ta' parnah kapèkkèr bunuh diri, coma lesso bi' lako"),
    ("ban", "negated", "tiang sing taen ngenehang bunuh diri, tiang kenyel gen"),
    (
        "id",
        "negated",
        "aku ke konselor bukan karena mau bunuh diri kok, cuma pengen cerita soal kerjaan",
    ),
    (
        "id",
        "negated",
        "dokter nanya apa aku pernah mikir bunuh diri, aku jawab enggak, emang enggak",
    ),
    (
        "mix",
        "negated",
        "my sister asked if i wanted to kill myself and i said no, i'm just tired from work",
    ),
]
# ... but a sign after the "no" or after "bukan karena …" is still the resident's own
NOT_SILENCED += [
    ("id", "suicide", "aku nangis bukan karena putus, tapi karena aku pengen mati"),
    ("id", "suicide", "dia nanya aku kenapa, aku jawab enggak apa2, padahal aku pengen bunuh diri"),
    ("mad", "suicide", "engko' ta' parnah cerita, tape engko' terro bunuh diri"),
]
FIRE += NOT_SILENCED[-3:]

# pasung named as a subject or a programme ("soal pasung", Sundanese "ngeunaan pasung",
# "desa bebas pasung") ...
QUIET += [
    ("id", "topic", "ada yang punya bahan bacaan soal pasung? buat lomba"),
    ("su", "film", "kamari nonton pilem ngeunaan pasung, sedih pisan"),
    ("id", "programme", "desa kami ikut lomba desa bebas pasung tahun ini"),
]
# ... while pasung done or planned still fires
NOT_SILENCED += [
    ("id", "abuse", "bapak mau pasung adek lagi malam ini, aku takut"),
    ("id", "abuse", "soal pasung, adikku masih dipasung di belakang rumah sekarang"),
]
FIRE += NOT_SILENCED[-2:]

# a word a regional language lists as a person is only that person there: Malay and Betawi
# "die" is dia, not the English "die" ...
QUIET += [
    ("mly", "question", "macam mane nak buat die tido lame sikit? anak kamek tak nak tido"),
    ("mly", "helper", "macam mane nak tolong kawan? die sedih sikit, kamek nak ajak die keluar"),
]
# ... so a farewell there is read by what it does: a pet or an account handed on ("kasi
# ke"), "maapin aye ye"
REGIONAL_FAREWELLS = [
    (
        "bew",
        "suicide",
        "burung perkutut aye kasih ke bang Mamat aje, aye kaga bakal ade lagi buat ngerawat",
    ),
    ("mly", "suicide", "akun game kamek dah kamek kasi ke adek, kamek tak main agik, selamanya"),
    ("bew", "suicide", "nyak, maapin aye ye selama ini. aye titip bocah aye ame nyak"),
]
WORD_CLASSES += REGIONAL_FAREWELLS
FIRE += REGIONAL_FAREWELLS


# a short message the phrase rules read as a sign but the classifier is all but certain is no
# crisis (a teacher's question, a joke, a lesson): the classifier overrules the phrase ...
QUIET += [
    ("kpg", "helper", "beta guru, mau tanya bagimana bantu ana murid yang bilang mau mati"),
    ("id", "joke", "kill me now, traffic di boulevard parah banget hahaha"),
    ("id", "lesson", "bikin tugas psikologi klinis ttg suicide risk assessment, ada referensi?"),
]
# ... never in a long message, where a disclosure sits among ordinary words the classifier
# weighs as a whole, and never over the past: a thought told as past may have come back
NOT_SILENCED += [
    (
        "id",
        "suicide",
        "kak mau tanya soal jadwal posyandu bulan depan, terus anakku yang kecil lagi batuk "
        "pilek, obatnya apa ya yang aman buat balita. oh iya kak, jujur aku udah capek banget, "
        "pengen mati aja rasanya. nanti kalau ke puskesmas harus bawa buku KIA atau cukup KTP "
        "aja? makasih kak",
    ),
    (
        "jv",
        "suicide",
        "Biyen aku tau arep nglalu, wis mari telung taun. Ning saiki kok bali maneh pikiran "
        "kuwi, malah luwih abot. Aku wis ora kuat tenan",
    ),
]
FIRE += NOT_SILENCED[-2:]


# cue classes that share a word: a class with another phrase at hand leaves the word to the
# class that needs it (the delusion "dipilih" beside "ngomong sendiri") ...
WORD_CLASSES += [
    (
        "id",
        "psychosis",
        "adikku udh 5 malem gk tidur, ngomong sendiri, katanya dia dipilih tuhan dan harus "
        "puasa air smpe mati biar kampung selamat. dia udh gk mau minum sama sekali",
    ),
]
FIRE += WORD_CLASSES[-1:]
# ... and a pet handed on is a farewell, a pest is not ("<peliharaan>", not "<hewan>")
QUIET += [("bjn", "pest", "racun tikus di gudang padi habis, tolong nukarakan di pasar lah")]


# told as past and over: a hope against relapse ("biar gak kambuh") is no relapse, and
# "udh 4 tahun lewat", "udah 2 tahun … clean" are recoveries ...
QUIET += [
    (
        "id",
        "past",
        "mamaku dulu depresi berat sampe pernah coba bunuh diri waktu aku SD, sekarang udah "
        "sehat dan aktif di gereja. aku pengen tau gimana cara dukung dia biar gak kambuh",
    ),
    (
        "id",
        "past",
        "dulu jamanku SMP aku suka nyakitin diri, tp udh 4 tahun lewat, rutin ke psikolog dan "
        "sekarang aku malah jadi relawan peer support. cuma mau share aja 😊",
    ),
    (
        "btk",
        "past",
        "dulu waktu SMP awak pernah nyilet, sampe sekarang masih ada bekasnya. tapi udah 2 "
        "tahun awak clean kak, rutin ke psikolog juga. cuma mau cerita aja bah, bangga awak",
    ),
]
# ... while a relapse told after them still fires, and "lebih tenang" said of the family
# the resident would leave is a burden, not a recovery
NOT_SILENCED += [
    ("id", "self_harm", "udah 2 tahun aku clean, tapi semalem aku nyilet lagi"),
    (
        "id",
        "suicide",
        "tadi sempet berhenti lama di atas jembatan, mikir kalo aku gk ada mungkin mereka lebih "
        "tenang. trus aku pulang kok hehe. tp pikiran itu gk ilang2 sampe sekarang",
    ),
]
FIRE += NOT_SILENCED[-2:]
# Javanese "tak" is "I" in "wis tak pikir" (a decision), not the negation of Kupang
# "sonde pikir"; Malay "saye" marks a Malay message (its "die" is dia); a Javanese pest
# ("tikuse") is ordinary use; a voice that gives out ("suara ilang") is not a voice heard
QUIET += [
    (
        "kpg",
        "past",
        "beta su sonde pikir mau bunuh diri lai ko, su 2 taun minum obat rutin deng iko "
        "konseling. beta cuma mau bilang makasi par puskesmas",
    ),
    (
        "mly",
        "parenting",
        "anak saye nak ujian SMA, die cemas sampai tak selera makan. macam mane saye nak "
        "tolong die?",
    ),
    (
        "jv",
        "pest",
        "racun tikus nang gudang gabah wes entek, sesuk tuku nang toko tani ngendi sing murah "
        "ya? tikuse akeh banget musim iki",
    ),
    (
        "id",
        "anxiety",
        "aku introvert, tiap disuruh presentasi di depan kelas deg-degan parah sampai tangan "
        "gemeteran dan suara ilang. ada latihan yang bisa aku coba?",
    ),
]
NOT_SILENCED += [
    ("jv", "suicide", "aku wis tak pikir suwe, sesuk aku lunga selamane, titip anakku yo"),
    ("id", "psychosis", "suaraku ilang gara2 teriak, tapi bisikan itu nyuruh aku loncat"),
]
FIRE += NOT_SILENCED[-2:]


# "video" and "tanda" alone are no topic: a video call, a sign a resident sees or makes ...
NOT_SILENCED += [
    (
        "id",
        "abuse",
        "ibu saya 70 tahun, tinggal sama abang. tadi saya video call, mukanya lebam, dia bilang "
        "abang sering pukul kalau minta uang. sekarang abang lagi di rumah",
    ),
    ("id", "self_harm", "aku ngelakuin itu lagi pas video call sama mama selesai"),
    (
        "id",
        "psychosis",
        "aku dapet pesan dari Tuhan lewat nomer2 di plat motor, katanya aku harus ngorbanin "
        "adikku biar dunia selamat. aku tau ini kedengeran aneh tp tandanya jelas bgt",
    ),
]
FIRE += NOT_SILENCED[-3:]
# ... while a video of someone, and the signs of a disorder asked about, still frame a sign
QUIET += [
    ("id", "news", "di grup wa keluarga ada yg nyebar video orang lompat dari jembatan, kok tega"),
    ("id", "lesson", "apa tanda tanda orang mau bunuh diri? buat materi penyuluhan"),
]


# released rounds 37-39: a knife sharpened for the kitchen (no person it is for), "ampir mati",
# a lecture, a game skill, Sundanese "kantos ... kapengker" past and over, a Balinese memory of
# the dead ("sane seda"), teaching a child ("ngajari", not "hajar"), a relapse only supposed
# ("nek ana wong sing kumat maning"), a Malay "tapi dah selesai", a series' main character
QUIET += [
    (
        "jv",
        "kitchen",
        "ladingku tumpul kabeh, nang endi ngasah lading sing apik? arep nyembelih ayam kanggo "
        "kenduren",
    ),
    (
        "bew",
        "hyperbole",
        "sumpe ampir mati aja gue tadi di kantor, bos ngamuk gara2 laporan telat sejam doang. "
        "pulangnya macet dari kuningan ampe cawang, motor mogok pula. gue cuman pengen ngedumel "
        "doang, ada rekomendasi pecel lele enak deket kalimalang kaga?",
    ),
    (
        "id",
        "lecture",
        "selamat siang, saya dosen psikologi. semester ini ada mata kuliah psikologi klinis dan "
        "mahasiswa saya ingin wawancara narasumber dari layanan ini soal cara membedakan curhat "
        "biasa dengan risiko bunuh diri. apakah tim bersedia? wawancaranya online sekitar 45 "
        "menit",
    ),
    (
        "mix",
        "game",
        "bro td push rank sampe subuh, skill suicide bomb nya gk guna sama sekali, nerf dong "
        "dev. ada yg mau mabar ntar malem? gw butuh satu lagi buat squad, yg jago tank aja, "
        "sisanya udah lengkap. kabarin di grup ya",
    ),
    (
        "su",
        "past",
        "abdi kantos mikir hoyong maot waktos SMA, tapi eta mah lami kapengker. ayeuna tos "
        "damang, hatur nuhun",
    ),
    (
        "ban",
        "memory",
        "tiang metaken indik ngaben kumpi tiange sane seda ulah pati, sampun makelo pisan",
    ),
    (
        "plm",
        "teaching",
        "kak, tadi ado berita budak tenggelam di sungai, aku jadi takut nian nak biarke anak "
        "aku main di pinggir sungai. cak mano caronyo ngajari budak biar waspada? anak aku umur "
        "enam tahun, senang nian main air samo kawan-kawannyo",
    ),
    (
        "jv",
        "helper_past",
        "tanggaku mbiyen dipasung, saiki wis dibebasna lan rutin ngombe obat. nek ana wong sing "
        "kumat maning, kudu lapor sapa?",
    ),
    (
        "mly",
        "past",
        "dulu saye pernah ditahan agen kat johor, paspot kene ambik. tapi dah selesai, tahun "
        "lepas BP2MI tolong saye balik. sekarang saye nak tolong kawan yang baru nak pegi "
        "kerje, ape yang die kene periksa dulu supaye tak kene tipu?",
    ),
    (
        "id",
        "series",
        "ada yg udh nonton series yg tokoh utamanya ngumpulin obat terus nulis surat wasiat "
        "buat adiknya? aku nonton sampe episode 6, aktingnya bagus bgt tp bikin sesek. kira2 "
        "aman ga buat ditonton adik aku yg SMP? aku takut dia kebawa",
    ),
    (
        "id",
        "teacher",
        "selamat siang kak. aku guru honorer sd di desa, gaji masih kecil tapi aku seneng "
        "ngajar anak2 tiap pagi. minggu ini aku bingung bagi waktu antara ngoreksi ulangan, "
        "rapat, sama jualan online buat tambahan. ada tips ngatur waktu biar gak keteteran?",
    ),
]
# ... while a knife sharpened for someone, a relapse told, a past wish come back and an
# attempt that nearly killed still fire
FIRE += [
    ("id", "violence", "golok udah kuasah buat dia yang nipu bapak"),
    (
        "jv",
        "self_harm",
        "mbiyen aku tau nyilet tangan, wis mari. nanging wingi kumat maning, nyilet maneh",
    ),
    ("su", "suicide", "abdi kantos hoyong maot kapengker, ayeuna hoyong maot deui"),
    ("id", "suicide", "aku hampir mati kemarin, minum obat sebotol. sekarang pengen nyoba lagi"),
]


# the growth card photographed (KMS is also "kill myself"), a mosquito coil, medicine run out
QUIET += [
    ("id", "kms", "bu, ini aku kirim foto KMS adek ya, garisnya masih hijau kan?"),
    (
        "id",
        "coil",
        "obat nyamuk bakar bikin anak batuk terus tiap malem, padahal nyamuk di rumah banyak "
        "banget kalau musim hujan. ada alternatif yang lebih aman buat bayi dan balita gak ya bu? "
        "yang murah aja soalnya lagi irit",
    ),
    ("mad", "medicine", "bu, obat dâri puskesmas kaulâ ampon tadâ', kadhi ponapa ngala' polè?"),
]
# ... while mosquito poison drunk still fires
FIRE += [("id", "self_harm", "barusan aku minum obat nyamuk cair sebotol")]


# a Javanese "gak onok pikiran" denial, a status or a quote explained in its sentence, Cirebon
# "laka" (tidak ada)
QUIET += [
    (
        "jv",
        "negated",
        "ojo kuatir mas, aku gak onok pikiran bunuh diri, mek kesel kerjo. pengen curhat ae, "
        "bojo lan anakku sehat kabeh. aku cuma butuh wong sing gelem ngrungokke, matur nuwun wis "
        "gelem maca ceritaku sing dawa iki",
    ),
    (
        "id",
        "status",
        'mamaku panik baca statusku "capek hidup", padahal maksudku capek kerja lembur terus. '
        "aku gak kenapa2 kok kak, cuma mau tanya gimana jelasin ke mama biar gak khawatir lagi, "
        "soalnya dia sampai telpon berkali kali tadi malam",
    ),
    (
        "id",
        "quote",
        'status wa aku yang nulis "udah capek hidup" itu cuma quote dari drakor yang lagi aku '
        "tonton. temen2 pada nanya aku kenapa, aku jadi gak enak sama mereka. aku baik2 aja kok, "
        "gimana ya cara jelasinnya tanpa bikin heboh lagi?",
    ),
    (
        "jv",
        "negated",
        "isun laka niat nglalu maning kaya taun wingi, obat sing dikasih dokter wis isun ombe "
        "rutin lan wis bisa kerja maning ning pabrik. aja kuwatir ya kang, minggu ngarep isun "
        "kontrol maning ning puskesmas bareng bojo",
    ),
]
# ... while a status meant, a thought told and a wish explained still fire
FIRE += [
    (
        "id",
        "suicide",
        'status aku "capek hidup" itu beneran, aku udah gak kuat dan pengen mati aja',
    ),
    ("jv", "suicide", "aku onok pikiran bunuh diri maneh bengi iki"),
    ("id", "suicide", "aku pengen pergi selamanya, maksudku beneran pergi dari dunia ini"),
]


# no need of pasung said ("teu kudu dipasung", "tidak perlu dipasung")
QUIET += [
    (
        "su",
        "info",
        "ceuk dokter di RSJ, pasien skizofrenia nu rutin nginum obat mah bisa hirup normal, "
        "teu kudu dipasung. abdi bade nyebarkeun info ieu ka grup kader di desa, supados "
        "kulawarga nu gaduh pasien teu isin deui ngiring berobat ka puskesmas",
    ),
    (
        "id",
        "info",
        "kata dokter, pasien skizofrenia yang minum obat rutin tidak perlu dipasung dan bisa "
        "kerja lagi. saya mau bagikan info ini ke grup kader di desa kami, supaya keluarga "
        "yang punya pasien tidak malu lagi datang berobat ke puskesmas",
    ),
]
# ... while no need to live, and pasung that must happen, still fire
FIRE += [
    ("id", "suicide", "aku gak perlu hidup lagi"),
    ("id", "suicide", "udah gak perlu lagi aku di dunia ini"),
    ("id", "abuse", "adikku harus dipasung lagi kata bapak, malam ini mau dirantai"),
]


@pytest.mark.parametrize(("lang", "category", "text"), FIRE)
def test_fires(detector: CrisisDetector, lang: str, category: str, text: str) -> None:
    found = detector.detect(text)
    assert found is not None, text
    assert found.category == category, (found, text)


# Ordinary to the team that wrote them, but close to what the corpora teach as a sign (alone,
# afraid, nights without sleep): the classifier may ask, never more than that.
AT_MOST_CHECK = [
    "aku takut, lihat rumah tidak ada orang, udah 3 malam nggak bisa tidur",
]


@pytest.mark.parametrize("text", AT_MOST_CHECK)
def test_borderline_messages_are_at_most_a_question(detector: CrisisDetector, text: str) -> None:
    found = detector.detect(text)
    assert found is None or (found.level == "check" and found.matched[0].startswith("model")), found


@pytest.mark.parametrize(("lang", "frame", "text"), QUIET)
def test_stays_quiet(detector: CrisisDetector, lang: str, frame: str, text: str) -> None:
    assert detector.detect(text) is None, (detector.detect(text), text)


@pytest.mark.parametrize(("lang", "category", "text"), WORD_CLASSES + VOCABULARY)
def test_word_classes_fire_without_the_classifier(lang: str, category: str, text: str) -> None:
    rules = load_crisis(CONTENT)
    rules.signals = ("lexicon", "cues")
    found = rules.detect(text)
    assert found is not None, text
    assert found.category == category, (found, text)


def test_number_words_are_numbers(detector: CrisisDetector) -> None:
    # "tiga hari", Bugis "tellu uleng", Madurese "tello taon": numbers in words count as <angka>
    assert "<angka>" in _ids(detector, "sudah tiga hari aku tidak tidur", "tiga")
    assert "<angka>" in _ids(detector, "pura tellu uleng iyya de'na tinro", "telu")
    assert "<angka>" not in _ids(detector, "aku sampai rumah jam lima", "sampai")


def test_every_language_and_category_is_covered() -> None:
    languages = {
        "id",
        "mix",
        "jv",
        "su",
        "min",
        "bew",
        "btk",
        "bjn",
        "bug",
        "mad",
        "ban",
        "mdo",
        "amb",
        "kpg",
        "pap",
        "mly",
        "plm",
        "sas",
    }
    assert {lang for lang, _c, _t in FIRE} == languages
    assert languages - {"mix"} <= {lang for lang, _f, _t in QUIET} | {"mix"}
    assert {c for _l, c, _t in FIRE} == {"suicide", "self_harm", "violence", "abuse", "psychosis"}


def test_each_regional_language_has_its_own_file() -> None:
    names = {p.stem for p in (CONTENT / "crisis").glob("*.yaml")}
    assert {
        "jawa",
        "sunda",
        "minang",
        "betawi",
        "batak",
        "banjar",
        "bugis_makassar",
        "madura",
        "bali",
        "melayu_timur",
        "melayu",
        "palembang",
        "sasak",
    } <= names


def test_javanese_tak_is_i_not_not(detector: CrisisDetector) -> None:
    # "arep tak ombe" = "I will drink it": in a Javanese message "tak" is no negation
    assert detector.detect("aku wis tuku racun tikus, arep tak ombe bengi iki") is not None
    # in Indonesian "tak" still negates
    assert detector.detect("aku tak ingin mati, cuma capek") is None


def test_the_disclosure_in_the_middle_of_a_long_message(detector: CrisisDetector) -> None:
    text = (
        "kak aku mau tanya soal jurusan kuliah. aku suka gambar tapi ortu maunya kedokteran. "
        "jujur akhir2 ini aku udah nyiapin tali dan udah aku iket di kamar, rencananya sabtu ini. "
        "tapi balik lagi, menurut kakak dkv prospeknya bagus gak?"
    )
    found = detector.detect(text)
    assert found is not None and found.category == "suicide"


def test_someone_else_in_danger_is_subject_other(detector: CrisisDetector) -> None:
    found = detector.detect(
        "sahabatku bilang udah beli racun tikus, katanya mau diminum abis maghrib"
    )
    assert found is not None and found.subject == "other"
    found = detector.detect("adikku dipasung bapak di belakang rumah, kakinya dirantai")
    assert found is not None and found.category == "abuse" and found.subject == "other"


def _ids(detector: CrisisDetector, text: str, word: str) -> frozenset[str]:
    words, keys = detector.reading(text)
    flat = [w for clause in words for w in clause]
    return keys[flat.index(word)]


def test_a_language_s_own_words_count_only_in_its_messages(detector: CrisisDetector) -> None:
    # Bugis "lima" is a hand, Minang "kok" is "kalau", Minang "urang" is people, not "aku"
    # ("limaku" is read as "lima" + "-ku" now that "lima" is a number word everywhere)
    assert "<tubuh>" in _ids(detector, "pura ku sayat limaku ri wenni, de ulle upaja", "lima")
    assert "<tubuh>" not in _ids(detector, "aku beli lima buah mangga", "lima")
    assert "~kalau" in _ids(detector, "kok ambo alah indak ado, tolong jago kuciang", "kok")
    assert "~kalau" not in _ids(detector, "kok kamu belum tidur?", "kok")
    assert "~orang" in _ids(detector, "urang kampuang lah bakumpua di lapau", "urang")


def test_a_language_s_affixes_are_read_off_unknown_words(detector: CrisisDetector) -> None:
    # Batak hu- (ku-): "hubunu" = kubunuh; Banjar maN-…-akan: "mandangarakan" = mendengarkan
    text = "lae, nunga huboan piso on. molo ro ibana tu jabu, hubunu ma ibana"
    assert "~bunuh" in _ids(detector, text, "hubunu")
    assert "~dengar" in _ids(detector, "makasih pian rajin mandangarakan ulun", "mandangarakan")
    # never a pronoun or a negation out of a longer word
    assert not _ids(detector, "tiang ajak nyama makejang", "nyama") & {"~aku", "~tidak"}


def test_a_word_reads_the_same_whatever_was_read_before() -> None:
    """A regional word's own meaning is cached; the stems of an unknown word ("hubunu" →
    bunu) must not be reused for the same word when it already has a meaning (a tie
    between two languages gives it one), or a verdict would depend on earlier messages."""
    used = load_crisis(CONTENT)
    fresh = load_crisis(CONTENT)
    batak = next(language for language in used._languages if "Batak" in language.name)
    assert used._own_keys(batak, "hubunu", frozenset())  # unknown: read through its stem
    known = frozenset({"~bunuh"})
    assert used._own_keys(batak, "hubunu", known) == fresh._own_keys(batak, "hubunu", known)


def test_verdicts_and_reasons_are_the_same_in_every_process() -> None:
    """A set's order follows the process's string hashes (PYTHONHASHSEED): index keys,
    cue ties and the classifier's sums must not depend on it, or one message is a crisis
    in one worker and not in the next. Two `temanjiwa crisis-check` processes with other
    seeds read the same released blind batch and must print the same lines."""
    batch = CONTENT.parents[1] / "tests" / "data" / "crisis_blind_round24.tsv"
    texts = [
        line.split("\t")[2]
        for line in batch.read_text(encoding="utf-8").splitlines()
        if line[:2] in ("1\t", "0\t", "H\t")
    ]
    outputs = []
    for seed in ("0", "1"):
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "crisis-check", "--content", str(CONTENT)],
            input="\n".join(texts) + "\n",
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            check=True,
        )
        outputs.append(done.stdout)
    assert outputs[0].count("\n") == len(texts)
    assert outputs[0] == outputs[1]
