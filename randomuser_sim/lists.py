"""Name, place and common word lists the generator draws from (data only)."""

# ruff: noqa: RUF001  (look-alike letters such as Turkish dotless i are the data)

# Entries come from the real v1.4/v1.3 sample responses in shared/randomuser_samples,
# plus a few of our own in the same script per nationality, so output varies. The
# production lists are far longer (RANDOMUSER-API.md A.4); shapes are what matter here.

from __future__ import annotations

from typing import Final, NamedTuple


class NatLists(NamedTuple):
    """The lists one nationality draws names and places from."""

    male: tuple[str, ...]
    female: tuple[str, ...]
    last: tuple[str, ...]
    street: tuple[str, ...]
    city: tuple[str, ...]
    state: tuple[str, ...]


def _split(joined: str) -> tuple[str, ...]:
    return tuple(joined.split("|"))


LISTS: Final[dict[str, NatLists]] = {
    "AU": NatLists(
        male=_split("Leon|Charles|Clifton|Jack|Oliver|Lachlan|Cooper|Riley|Harvey"),
        female=_split("Aubree|Kenzi|Charlotte|Isla|Matilda|Ruby|Chloe|Zoe|Sienna"),
        last=_split(
            "Nichols|Anderson|Fowler|Hoffman|Cook|Smith|Jones|Williams|Brown|Wilson|"
            "Taylor|Martin|O'Connor"
        ),
        street=_split(
            "E Sandy Lake Rd|Bollinger Rd|Photinia Ave|College St|Taylor St|"
            "Parramatta Rd|George St|Pitt St|Hunter St|Miller Ave"
        ),
        city=_split(
            "Bendigo|Maitland|Kalgoorlie|Orange|Brisbane|Sydney|Melbourne|Perth|"
            "Adelaide|Hobart|Darwin|Wollongong|Coffs Harbour"
        ),
        state=_split(
            "Australian Capital Territory|Victoria|Queensland|New South Wales|"
            "Tasmania|Western Australia|South Australia|Northern Territory"
        ),
    ),
    "BR": NatLists(
        male=_split(
            "Adolfo|Gilberto|Aramis|Damas|João|Vicente|Caetano|Ivo|Sebastião|Otávio"
        ),
        female=_split(
            "Cátia|Rica|Elenice|Lúcia|Adriana|Jussara|Luíza|Rosângela|Glória"
        ),
        last=_split(
            "Pires|Lima|Cavalcanti|Dias|Santos|Rodrigues|Oliveira|Souza|Ferreira|"
            "Araújo|Gonçalves|Barbosa|Ribeiro|Conceição"
        ),
        street=_split(
            "Rua São Paulo |Travessa dos Martírios|Rua Dezessete |Rua Tiradentes |"
            "Rua Dois|Rua Rui Barbosa |Rua Vinte E Quatro de Outubro|Rua Quatro|"
            "Rua Belo Horizonte |Rua Castro Alves |Rua Paraíba |Rua Santa Maria "
        ),
        city=_split(
            "Paulo Afonso|Diadema|Igarassu|Cametá|Barreiras|Crato|Cotia|Maringá|"
            "São Luís|Belém|Uberaba|Jundiaí|Foz do Iguaçu"
        ),
        state=_split(
            "Acre|Bahia|Rondônia|Rio Grande do Norte|Ceará|Pernambuco|Paraná|"
            "Minas Gerais|São Paulo|Amazonas|Goiás|Piauí"
        ),
    ),
    "CA": NatLists(
        male=_split("Daniel|Liam|Noah|Jacob|Nathan|Félix|Logan"),
        female=_split("Clara|Charlotte|Emma|Olivia|Maëlle|Chloe|Sophie|Léa"),
        last=_split(
            "Wilson|Johnson|Scott|Tremblay|Gagnon|Roy|Côté|Bouchard|Brown|Martin|Lavoie"
        ),
        street=_split(
            "Dufferin St|Concession Road 23|Cedar St|King St|Elgin St|Parliament St|"
            "Pine Rd|Victoria Ave"
        ),
        city=_split(
            "Elgin|Lafontaine|Chatham|Toronto|Montreal|Vancouver|Ottawa|Regina|"
            "Trois-Rivières|Summerside"
        ),
        state=_split(
            "British Columbia|Nunavut|Newfoundland and Labrador|Ontario|Québec|"
            "Manitoba|Alberta|Saskatchewan|Nova Scotia|Prince Edward Island|"
            "New Brunswick|Yukon|Northwest Territories"
        ),
    ),
    "CH": NatLists(
        male=_split(
            "Attila|Heinrich|Luan|Dario|Sergio|Luca|Noé|Jonas|Marco|Yves|Gabriel"
        ),
        female=_split("Giorgia|Léa|Maëlle|Anna|Sophie|Chiara|Océane|Lena|Mélissa"),
        last=_split(
            "Bernard|Petit|Guillot|Muller|Francois|Blanchard|Meyer|Fontaine|Girard|"
            "Roux|Mercier|Dupont|Lambert"
        ),
        street=_split(
            "Place de L'Abbé-Franz-Stock|Rue Principale|Rue Cyrus-Hugues|Rue Baraban|"
            "Rue Barrème|Rue de L'Abbé-Grégoire|Rue Dugas-Montbel|"
            "Place du 8 Novembre|Rue du Bât-D'Argent|Rue Paul Bert"
        ),
        city=_split(
            "Laconnex|Greifensee|Obergerlafingen|Rümlang|Bergün/Bravuogn|Arbaz|"
            "Genève|Lausanne|Bern|Basel|Zug|Sion|Neuchâtel"
        ),
        state=_split(
            "Zürich|Fribourg|Schaffhausen|Valais|Thurgau|Appenzell Ausserrhoden|Bern|"
            "Vaud|Genève|Ticino|Luzern|Graubünden|Neuchâtel|Jura"
        ),
    ),
    "DE": NatLists(
        male=_split(
            "Horst-Günter|Eduard|Urban|Jens|Jürgen|Hans-Dieter|Klaus|Lukas|"
            "Maximilian|Günther"
        ),
        female=_split(
            "Loretta|Rahel|Josefine|Marcella|Jutta|Ingrid|Hannelore|Sophie|Lea|Käthe|"
            "Gisela"
        ),
        last=_split(
            "Habermann|Korte|Marquardt|Sieber|Krause|Michler|Kürschner|Neubert|"
            "Müller|Schmidt|Schäfer|Weiß|Großmann|Fischer|Becker"
        ),
        street=_split(
            "Fasanenweg|Bahnhofstraße|Ahornweg|Lerchenweg|Raiffeisenstraße|"
            "Kirchgasse|Tannenweg|Danziger Straße|Schulstraße|Gartenstraße|Mühlenweg|"
            "Lindenstraße|Am Bahnhof"
        ),
        city=_split(
            "Teltow|Kaub|Kalkar|Vöhrenbach|Rehburg-Loccum|Mindelheim|Arneburg|"
            "Hirschhorn (Neckar)|München|Köln|Düsseldorf|Görlitz|Lüneburg|Bad Tölz"
        ),
        state=_split(
            "Sachsen-Anhalt|Bayern|Berlin|Niedersachsen|Thüringen|Hessen|Bremen|"
            "Baden-Württemberg|Nordrhein-Westfalen|Hamburg|Sachsen|Saarland|"
            "Brandenburg|Rheinland-Pfalz|Schleswig-Holstein|Mecklenburg-Vorpommern"
        ),
    ),
    "DK": NatLists(
        male=_split(
            "Sander|Kasper|Villads|Benjamin|Albert|Magnus|Simon|Oliver|Mikkel|"
            "Frederik|Søren|Emil"
        ),
        female=_split("Nanna|Ida|Freja|Mathilde|Asta|Signe|Sofie|Maja|Astrid"),
        last=_split(
            "Jensen|Andersen|Sørensen|Hansen|Madsen|Pedersen|Nielsen|Christensen|"
            "Larsen|Rasmussen|Kristensen|Jørgensen|Mortensen"
        ),
        street=_split(
            "Søtoften|Orevej|Lyngtoften|Brogade|Gudenåvej|Kløvervej|Engtoften|"
            "Plantagevej|H.C. Lumbyes Vej|Skovvej|Bøgevej|Ahornvej|Østergade|Ærøvej"
        ),
        city=_split(
            "Ansager|Vesterborg|Sønder Stenderup|København S|Oure|Stoevring|Samsø|"
            "Nørrebro|Kongens  Lyngby|Aarhus|Odense|Aalborg|Esbjerg|Randers|Vejle|"
            "Ærøskøbing"
        ),
        state=_split("Sjælland|Midtjylland|Syddanmark|Nordjylland|Hovedstaden|Danmark"),
    ),
    "ES": NatLists(
        male=_split("Marcos|Javier|Alejandro|Hugo|Álvaro|Iván|Ramón|Jesús"),
        female=_split("Nerea|Miriam|Eva|Lucía|Carmen|María|Sofía|Inés|Nuria"),
        last=_split(
            "Hidalgo|Sáez|Medina|Pastor|García|Fernández|López|Martín|Núñez|Ibáñez|"
            "Muñoz"
        ),
        street=_split(
            "Calle de Téllez|Calle de Tetuán|Calle de Alcalá|Calle de Segovia|"
            "Calle del Prado|Avenida de Castilla|Calle de Argumosa|"
            "Paseo de Extremadura|Calle de La Almudena"
        ),
        city=_split(
            "Torrente|Gandía|Torrejón de Ardoz|Arrecife|Madrid|Barcelona|Sevilla|"
            "Valencia|Zaragoza|Málaga|Alcobendas|Cádiz"
        ),
        state=_split(
            "La Rioja|Asturias|Ceuta|Castilla la Mancha|Comunidad de Madrid|Cataluña|"
            "Andalucía|Galicia|Castilla y León|Aragón|Navarra|Extremadura|País Vasco|"
            "Islas Baleares|Canarias|Cantabria|Región de Murcia|Comunidad Valenciana|"
            "Melilla"
        ),
    ),
    "FI": NatLists(
        male=_split("Vilho|Otto|Aatu|Eetu|Onni|Elias|Väinö|Juho|Lauri"),
        female=_split("Neea|Aino|Ella|Iida|Siiri|Venla|Helmi|Emilia|Minttu"),
        last=_split(
            "Ylitalo|Manni|Tikkanen|Leino|Korhonen|Virtanen|Mäkinen|Nieminen|Mäkelä|"
            "Hämäläinen|Lehtonen|Heikkinen"
        ),
        street=_split(
            "Suvantokatu|Bulevardi|Myllypuronkatu|Tehtaankatu|Hämeenkatu|"
            "Pispalan Valtatie|Mannerheimintie|Esplanadi|Otavalankatu"
        ),
        city=_split(
            "Nivala|Haapajärvi|Kuhmoinen|Tarvasjoki|Helsinki|Espoo|Tampere|Vantaa|"
            "Oulu|Turku|Jyväskylä|Hämeenlinna"
        ),
        state=_split(
            "Central Ostrobothnia|Åland|Southern Savonia|Pirkanmaa|Uusimaa|Lapland|"
            "Kainuu|North Karelia|Ostrobothnia|Satakunta|Kymenlaakso|Päijät-Häme|"
            "Tavastia Proper|Southwest Finland"
        ),
    ),
    "FR": NatLists(
        male=_split("Dylan|Baptiste|Théo|Mathéo|Enzo|Lucas|Hugo|Raphaël|Noé"),
        female=_split("Lison|Noélie|Kiara|Loane|Léna|Chloé|Inès|Manon|Océane|Élise"),
        last=_split(
            "Brunet|Legrand|David|Gautier|Masson|Fournier|Martin|Bernard|Dubois|"
            "Lefèvre|Roussel|Mercier|Girard"
        ),
        street=_split(
            "Rue Chazière|Quai Chauveau|Rue Abel|Rue Bataille|Rue du Stade|"
            "Rue André-Gide|Rue de la Mairie|Rue de L'Église|Avenue de la Libération|"
            "Place de L'Abbé-Jean-Lebeuf|Rue Duguesclin"
        ),
        city=_split(
            "Tours|Rennes|Argenteuil|Marseille|Boulogne-Billancourt|Aubervilliers|"
            "Paris|Lyon|Nantes|Montpellier|Saint-Étienne|Besançon|Nîmes"
        ),
        state=_split(
            "Haute-Marne|Mayenne|Meurthe-et-Moselle|Charente|Alpes-de-Haute-Provence|"
            "Yonne|Hautes-Alpes|Ardèche|Finistère|Loire-Atlantique|Bouches-du-Rhône|"
            "Hérault|Côte-D'Or|Seine-Saint-Denis"
        ),
    ),
    "GB": NatLists(
        male=_split(
            "Carter|Daryl|Noah|Shawn|Tyrone|Ricardo|Melvin|Harry|George|Alfie|Callum"
        ),
        female=_split(
            "Holly|Amelia|Sophie|Eleanor|Ruby|Poppy|Jessica|Megan|Imogen|Lily"
        ),
        last=_split(
            "Silva|Allen|Anderson|Douglas|Gonzales|Curtis|Hamilton|Smith|Jones|"
            "Taylor|Evans|Walker|Wright|Hughes"
        ),
        street=_split(
            "Manchester Road|Rectory Lane|New Road|Station Road|Brick Kiln Road|"
            "Queensway|King Street|High Street|Church Lane|Mill Road|The Drive|"
            "London Road"
        ),
        city=_split(
            "St Albans|Belfast|Ripon|Westminster|Newry|Liverpool|London|Leeds|"
            "Bristol|Cardiff|Aberdeen|Swansea|Stoke-on-Trent|Bradford|King’s Lynn"
        ),
        state=_split(
            "Cornwall|Cambridgeshire|Northamptonshire|South Yorkshire|Tyne and Wear|"
            "Staffordshire|Hertfordshire|Greater Manchester|West Yorkshire|"
            "Lancashire|Devon|Dyfed|Highlands and Islands|Strathclyde|County Antrim"
        ),
    ),
    "IE": NatLists(
        male=_split("Russell|Paul|Gilbert|Larry|Seán|Cian|Oisín|Patrick|Declan"),
        female=_split(
            "Sophie|Caitlin|Megan|Rebecca|Julie|Aoife|Niamh|Siobhán|Róisín|Ciara"
        ),
        last=_split(
            "Caldwell|Bates|Russell|Griffin|Dunne|Ford|Sanders|Richards|Gray|Murphy|"
            "Kelly|O'Sullivan|Walsh|O'Brien|Byrne|Ryan|McCarthy"
        ),
        street=_split(
            "George Street|Strand Road|Park Road|Park Avenue|Rookery Road|"
            "North Street|Park Lane|O'Connell Avenue|West Street|Main Street|"
            "Church Street|Grange Road|Dublin Road"
        ),
        city=_split(
            "Newbridge|Limerick|Mullingar|Newcastle West|Listowel|Athenry|Bray|"
            "Westport|Dublin|Galway|Kilkenny|Sligo|Tralee|Ennis|Carrigaline|"
            "Dún Laoghaire"
        ),
        state=_split(
            "Limerick|Louth|Cavan|Wicklow|Galway|Leitrim|Cork|Waterford|Dublin|Kerry|"
            "Mayo|Donegal|Sligo|Kildare|Offaly|Tipperary|Wexford"
        ),
    ),
    "IN": NatLists(
        male=_split("Kahaan|Aarav|Vihaan|Arjun|Ishaan|Rohan|Aditya|Kabir|Reyansh|Sai"),
        female=_split("Ananya|Diya|Aadhya|Saanvi|Ishita|Kavya|Meera|Priya|Riya|Anika"),
        last=_split("Shetty|Sharma|Patel|Reddy|Nair|Iyer|Kumar|Gupta|Singh|Das|Menon"),
        street=_split(
            "Racecource Rd|MG Road|Park Street|Brigade Rd|Linking Rd|Nehru Road|"
            "Marine Drive|Station Rd"
        ),
        city=_split(
            "Narasaraopet|Mumbai|Delhi|Bengaluru|Chennai|Kolkata|Pune|Hyderabad|"
            "Jaipur|Lucknow|Kochi|Kalyan–Dombivli"
        ),
        state=_split(
            "Mizoram|Maharashtra|Karnataka|Kerala|Tamil Nadu|Gujarat|Punjab|"
            "Rajasthan|Assam|Goa|Uttar Pradesh|Odisha"
        ),
    ),
    "IR": NatLists(
        male=_split("دانیال|آرمین|محمدطاها|امیرحسین|علی|رضا|مهدی|پارسا|سپهر|کیان|آریا"),
        female=_split("یسنا|زهرا|فاطمه|مریم|نازنین|ستایش|مهسا|هستی|پریا|نیایش|مارال"),
        last=_split(
            "کامروا|حسینی|صدر|احمدی|رضایی|محمدی|کریمی|موسوی|جعفری|نجاتی|سلطانی|یاسمی|"
            "حسین‌زاده"
        ),
        street=_split(
            "هویزه|شهید کشواد|پارک طالقانی|دکتر لواسانی|میدان انقلاب|ولیعصر|15 خرداد|"
            "شهید همت|آزادی"
        ),
        city=_split(
            "خوی|بجنورد|آبادان|تهران|اصفهان|شیراز|مشهد|تبریز|کرج|قزوین|رشت|یزد"
        ),
        state=_split(
            "قزوین|چهارمحال و بختیاری|قم|تهران|اصفهان|فارس|خراسان رضوی|گیلان|کرمان|"
            "یزد|آذربایجان شرقی"
        ),
    ),
    "MX": NatLists(
        male=_split("Pablo|Gregorio|Rolando|José|Jorge|Alejandro|Raúl|Ángel|Emiliano"),
        female=_split("Dolores|Amalia|Irma|Guadalupe|María José|Ximena|Sofía|Renata"),
        last=_split(
            "Rendón|Figueroa|Arguello|Pulido|Ocampo|Rocha|Hernández|Martínez|"
            "González|Sánchez|Pérez|Ramírez|Cortés"
        ),
        street=_split(
            "Peatonal del Río|Diagonal Sur Barrientos|Callejón Sur Naranjo|"
            "Diagonal Herrera|Privada Italia|Continuación Franco|"
            "Avenida Norte Vallejo|Calle Hidalgo|Privada Sur Guzmán|"
            "Ampliación Norte Morales|Andador Juárez"
        ),
        city=_split(
            "Ejido Constitución|Coacoatzintla|Soledad de Graciano Sánchez|"
            "San Patricio (Melaque)|Tahmek|Creel|Guadalajara|Monterrey|Puebla|Mérida|"
            "Querétaro|Ciudad Juárez|Tlaquepaque"
        ),
        state=_split(
            "Tlaxcala|Nayarit|Tabasco|Zacatecas|Hidalgo|Jalisco|Nuevo León|Puebla|"
            "Yucatán|Chiapas|Oaxaca|Guerrero|Sonora|Veracruz"
        ),
    ),
    "NL": NatLists(
        male=_split(
            "Koenraad|Naim|Joy|Filippus|Thiago|Daan|Sem|Bram|Jeroen|Tijmen|Geert"
        ),
        female=_split("Josja|Sanne|Femke|Anouk|Lieke|Fenna|Eline|Noëlle|Marieke"),
        last=_split(
            "Hoedjes|Held|Ooteman|Schook|Van Andel|Niewold|De Jong|Jansen|"
            "Van der Meer|Bakker|'T Hart|Van den Brand|Visser|De Boer"
        ),
        street=_split(
            "Bontekoestraat|Caddenbosch|Henk Lensenlaan|Johannes Uitenbogaertstraat|"
            "Annelien Kappeyne van de Coppellostraat|Dr. Banningstraat|Kerkstraat|"
            "Dorpsstraat|Molenweg|Stationsweg|Burgemeester Bolklaan"
        ),
        city=_split(
            "Matsloot|Netersel|Midwolda|Kilder|Munnekemoer|Zwaag|Amsterdam|Utrecht|"
            "Berkelland|Zoetermeer|Aalsmeer|'s-Heerenberg"
        ),
        state=_split(
            "Limburg|Flevoland|Noord-Brabant|Drenthe|Groningen|Zuid-Holland|"
            "Noord-Holland|Utrecht|Gelderland|Overijssel|Friesland|Zeeland"
        ),
    ),
    "NO": NatLists(
        male=_split("Ibrahim|Michal|Lias|Tom|Ola|Håkon|Sindre|Jørgen|Magnus|Eirik"),
        female=_split(
            "Iben|Weronika|Emily|Ingrid|Kari|Sigrid|Åse|Solveig|Marte|Nora|Ylva"
        ),
        last=_split(
            "Drageset|Voll|Lofthus|Sundstrøm|Abdullahi|Nilssen|Leiknes|Hansen|"
            "Johansen|Olsen|Larsen|Berg|Haugen|Bakke|Strøm"
        ),
        street=_split(
            "Professor Lochmanns gate|Alunsjøveien|Hollendergata|Krokstien|"
            "Hockeyveien|Spireaveien|Sigurd Syrs gate|Storgata|Kirkeveien|"
            "Bjørnstjerne Bjørnsons gate|Sognsveien|Åsveien"
        ),
        city=_split(
            "Innbygda|Nordkjosbotn|Kil|Vestre Jakobselv|Hellerud|Nesbyen|Sneltvedt|"
            "Oslo|Bergen|Trondheim|Stavanger|Tromsø|Ålesund|Bodø|Fredrikstad"
        ),
        state=_split(
            "Troms - Romsa|Sør-Trøndelag|Akershus|Oppland|Rogaland|Møre og Romsdal|"
            "Oslo|Hordaland|Nordland|Vestfold|Finnmark - Finnmárku|Aust-Agder|"
            "Buskerud|Telemark|Sogn og Fjordane|Description"
        ),
    ),
    "NZ": NatLists(
        male=_split("Archer|Liam|Jack|Hunter|Lucas|Mason|Oliver|Tama"),
        female=_split("Ivy|Kayla|Kate|Charlotte|Olivia|Isla|Harper|Ella|Aria"),
        last=_split(
            "Hall|Wright|Lee|Roberts|Smith|Wilson|Brown|Taylor|Walker|Campbell|Thompson"
        ),
        street=_split(
            "Domain Road|Port Hills Road|Collingwood Street|Kahikatea Drive|"
            "Queen Street|Great North Road|Victoria Avenue|Fitzgerald Avenue"
        ),
        city=_split(
            "Rotorua|Christchurch|Gisborne|Greymouth|Auckland|Wellington|Hamilton|"
            "Tauranga|Dunedin|Napier|Nelson|Palmerston North"
        ),
        state=_split(
            "Nelson|Tasman|Gisborne|Southland|Auckland|Wellington|Canterbury|Otago|"
            "Waikato|Bay of Plenty|Hawke'S Bay|Northland|Marlborough|"
            "Manawatu-Wanganui"
        ),
    ),
    "RS": NatLists(
        male=_split("Ljubiša|Velibor|Nikola|Stefan|Dušan|Đorđe|Miloš|Vuk|Bogdan"),
        female=_split(
            "Andrea|Iva|Ljuba|Lada|Milica|Jovana|Teodora|Anđela|Ivana|Ljiljana"
        ),
        last=_split(
            "Kojić|Katanić|Dokić|Rašić|Stevanović|Santrač|Jovanović|Petrović|Nikolić|"
            "Marković|Đorđević|Stojanović|Ilić|Živković"
        ),
        street=_split(
            "Dvadesetdevetog Novembra|Draginje Vlašić|Vinogradarska|Belasička|"
            "Miloša Bajića |Trinaestog Oktobra|Kneza Mihaila|Cara Dušana|"
            "Bulevar Oslobođenja|Nemanjina|Takovska|Јug Bogdanova"
        ),
        city=_split(
            "Belgrade|Kovačica|Petrovac na Mlavi|Sečanj|Sjenica|Zvečan|Novi Sad|Niš|"
            "Kragujevac|Subotica|Čačak|Šabac|Smederevo"
        ),
        state=_split(
            "Braničevo|Pomoravlje|Toplica|South Bačka|North Banat|Belgrade|Raška|"
            "Šumadija|Podunavlje|Rasina|Mačva|Kolubara|Pčinja"
        ),
    ),
    "TR": NatLists(
        male=_split("Barış|Necati|Mehmet|Mustafa|Ahmet|Emre|Yiğit|Oğuz|Çağlar"),
        female=_split("Afşar|Mestan|Ömür|Elif|Zeynep|İpek|Şule|Gülsüm|Ayşe|Nazlı"),
        last=_split(
            "Tazegül|Kulaksızoğlu|Kunter|Korol|Yazıcı|Yılmaz|Kaya|Demir|Şahin|Çelik|"
            "Öztürk|Aydın|Akbulut"
        ),
        street=_split(
            "Necatibey Cd|Maçka Cd|Istiklal Cd|Şehitler Cd|Atatürk Sk|Kushimoto Sk|"
            "Bağdat Cd|Fatih Sultan Mehmet Cd|Vatan Cd"
        ),
        city=_split(
            "Şırnak|Kütahya|Rize|Bingöl|İstanbul|Ankara|İzmir|Bursa|Eskişehir|Muğla|"
            "Çanakkale"
        ),
        state=_split(
            "Gaziantep|Erzurum|Kırşehir|Karaman|Kırıkkale|İstanbul|Ankara|İzmir|"
            "Antalya|Muğla|Çanakkale|Şanlıurfa|Trabzon"
        ),
    ),
    "UA": NatLists(
        male=_split(
            "Boris|Peresvit|Bogdan|Yaroslav|Oleksandr|Taras|Ostap|Svyatoslav|Zinoviy|"
            "Lyubomir"
        ),
        female=_split(
            "Mar'yana|Oksana|Nezabudka|Solomiya|Zlata|Lesya|Miroslava|Dariya|Halina|"
            "Vlasta"
        ),
        last=_split(
            "Ribalchenko|Grivko|Nakonechniy|Shevchenko|Bondarenko|Kovalenko|Tkachuk|"
            "Kravchuk|G'zhickiy|Lisenko|Melnik"
        ),
        street=_split(
            "Patriarha Mstislava Skripnika|Provulok Dezhnieva|Ivana Franka|"
            "Shevchenka|Soborna|Zelena|Sichovih Strilciv|Kiyivska"
        ),
        city=_split(
            "Rivne|Noviy Kaliniv|Kiyiv|Kharkiv|Odesa|Dnipro|Lviv|Kam'yanka-Buzka|"
            "Zhitomir|Chernivci"
        ),
        state=_split(
            "Lvivska|Ternopilska|Kiyivska|Harkivska|Odeska|Dnipropetrovska|Poltavska|"
            "Volinska|Zakarpatska|Vinnicka"
        ),
    ),
    "US": NatLists(
        male=_split(
            "Christopher|Ricky|Salvador|Owen|Perry|Javier|Ernest|Tracy|Kent|Landon|"
            "Adam|Karl|Harvey|Herbert|Levi|Maurice|Harry|Cameron|Eric|Wallace|Mike|"
            "Eli|Jordan|Rick|Thomas|Daryl|Randy|Austin|Luke|Cory|Andy|Evan|Hector|"
            "Leslie|Roy|Tristan|Ethan|Ricardo|Juan|Chester|Matthew|Jeffrey|Anthony|"
            "Alan|Leo|Gilbert|Leon|Dwayne|Zack|Travis|Byron|Marion|Lewis|James|Brett|"
            "Marvin|Fred|Benjamin|Arthur|Jackson|Same|Albert|Alvin|Virgil|Antonio|"
            "Jerome|Justin|Rafael|Ronald|Aaron|Nicholas|Ray|Johnni|Ramon|Frank|"
            "Curtis|Caleb|Micheal|Jim|Ritthy"
        ),
        female=_split(
            "Sonia|Bessie|Avery|Theresa|Lisa|Patsy|Priscilla|Lauren|Marion|Pamela|"
            "Lois|Madison|Arlene|Brandy|Loretta|Robin|Myrtle|Maureen|Sherry|Zoe|"
            "Violet|Nellie|Willie|Billie|Juanita|Isabella|Kristin|Claudia|Eileen|"
            "Genesis|Margie|Sally|Marie|Mary|Kay|Holly|Victoria|Kim|Meghan|Lucille|"
            "Felicia|Teresa|Kenzi|Megan|Elsie|Lena|Allison|Bernice|Kathryn|Stella|"
            "Carmen|Susan|Rose|Noelle|Colleen|Michelle|Beatrice|Marilyn|Emily|"
            "Brittany|Sheila|Jean|Kristina|Olivia|Bonnie|Wendy|Tonya|Tracy|Connie|"
            "Gail|Aubree|Harper|Rita|Kathy|Marjorie|Wanda|Shelly|Serenity|Ruby|Miriam"
        ),
        last=_split(
            "Freeman|Scott|Brooks|Olson|Craig|Alexander|Hamilton|Rogers|Mcdonalid|"
            "Simmmons|Stevens|Peck|Kim|Kelly|Phillips|Richardson|Long|Steward|Fisher|"
            "Gilbert|Smith|Gibson|Fernandez|Grant|Miles|Lopez|James|Crawford|Sutton|"
            "Arnold|Ramirez|Simmons|Franklin|Hall|Cunningham|Warren|Holmes|Wood|Lowe|"
            "Brewer|Hicks|Taylor|Edwards|Howell|Bryant|Allen|Cole|Parker|Herrera|"
            "Davis|Morales|King|Wright|Harris|Moreno|Knight|Anderson|Castillo|West|"
            "Jacobs|Hanson|Ross|Burke|Fields|Cox|Reid|Morgan|Washington|Nguyen|"
            "Wilson|Collins|Johnson|Reed|Wallace|Robinson|Russell|Ford|Chambers|"
            "Obrien|Webb"
        ),
        street=_split(
            "Thornridge Cir|Pecan Acres Ln|Dane St|College St|Marsh Ln|E Center St|"
            "Saddle Dr|Karen Dr|Country Club Rd|Stevens Creek Blvd|N Stelling Rd|"
            "Lovers Ln|Valwood Pkwy|E Sandy Lake Rd|Hunters Creek Dr|Valley View Ln|"
            "Royal Ln|Fincher Rd|Central St|Cackson St|Ranchview Dr|Plum St|"
            "Camden Ave|Lakeview St|Daisy Dr|Pockrus Page Rd|Cherry St|W Gray St|"
            "Hillcrest Rd|Spring St|Mcclellan Rd|Edwards Rd|Ash Dr|Robinson Rd|"
            "James St|Westheimer Rd|Samaritan Dr|Avondale Ave|Forest Ln|Dogwood Ave|"
            "Woodland St|E Little York Rd|Railroad St|Timber Wolf Trail|"
            "Lone Wolf Trail|Paddock Way|Smokey Ln|Depaul Dr|Washington Ave|"
            "Blossom Hill Rd|Oak Lawn Ave|First Street|Adams St|Prospect Rd|"
            "Mockingbird Ln|W Belt Line Rd|Preston Rd|Photinia Ave|W Pecan St|"
            "W Dallas St|Eason Rd|Lakeshore Rd|Taylor St|Brown Terrace|"
            "Walnut Hill Ln|E Pecan St|W Campbell Ave|Spring Hill Rd|Hamilton Ave|"
            "Poplar Dr|Shady Ln Dr|White Oak Dr|Sunset St|Bollinger Rd|Frances Ct|"
            "Rolling Green Rd|Locust Rd|E North St|Nowlin Rd|Groveland Terrace"
        ),
        city=_split(
            "Irvine|Mesquite|Altoona|Warren|Santa Clarita|Lewisville|Jackson|"
            "Little Rock|Kent|South Bend|Rio Rancho|Rochester|Frisco|Ventura|"
            "Bernalillo|El Monte|West Palm Beach|Pueblo|Olathe|Miami Gardens|"
            "Thornton|Fresno|Cape Fear|St. Petersburg|Waco|Los Lunas|Saint Paul|"
            "Greeley|Riverside|New York|Oklahoma City|Seattle|Peoria|Fargo|Laredo|"
            "Norwalk|Red Oak|Baton Rouge|Kansas City|Woodbridge|Burkburnett|Toledo|"
            "Costa Mesa|Abilene|Modesto|Long Beach|Salinas|Savannah|Augusta|Hartford|"
            "Midland|Pompano Beach|Broken Arrow|Rialto|Richmond|Belen|Iowa Park|"
            "Knoxville|Denver|Addison|Torrance|Albuquerque|Lewiston|Farmers Branch|"
            "Inglewood|San Antonio|El Cajon|West Jordan|Cape Coral|Los Angeles|"
            "Houston|Allen|Chesapeake|Indianapolis|Brownsville|Pomona|Santa Ana|"
            "Carlsbad|Elk Grove|Antioch|Winston–Salem"
        ),
        state=_split(
            "Wisconsin|Nevada|California|Alabama|New Mexico|Nebraska|Connecticut|"
            "Maryland|Oklahoma|Hawaii|Arizona|Montana|South Dakota|Vermont|Missouri|"
            "Ohio|Pennsylvania|New Hampshire|Arkansas|Alaska|Illinois|Virginia|"
            "West Virginia|Rhode Island|Kansas|Michigan|Massachusetts|Indiana|"
            "Delaware|New York|Utah|Iowa|Oregon|Minnesota|Wyoming|Maine|Louisiana|"
            "Colorado|Florida|Texas|Mississippi|Washington|North Dakota|"
            "South Carolina|Kentucky|Georgia|Idaho|New Jersey|North Carolina|"
            "Tennessee"
        ),
    ),
}

NO_POSTCODES: Final = _split(
    "1659|7284|2338|4596|5567|1003|8070|0875|0150|0557|1053|2008|3015|4021|"
    "5003|6003|7010|8006|9008|0661|3727"
)

# Production draws from 7,547 common passwords, one of them the empty string.
PASSWORDS: Final = _split(
    "111222|123987|1717|1945|1960|1964|1967|1dragon|242424|2469|427900|"
    "474747|545454|57chevy|717171|7734|852456|8j4ye3uz|989898|aberdeen|"
    "access1|aceace|adam12|alexis|animated|asdf123|asia|aspire|atomic|auto|"
    "baba|babe|babylon|barcelon|bean|beast|beautifu|bills|billyboy|birthday|"
    "blast|blonde|blues1|boiler|bologna|bonnie|bouncer|bremen|broker|"
    "brucelee|buck|burger|caca|camels|capslock|card|carmex2|carson|carter|"
    "cartoon|casey1|cavalier|cecilia|cedric|chaos1|cheese1|chief|clemente|"
    "closer|cococo|colt45|contract|cookie1|coolman|corsair|cory|crusader|"
    "cutlass|daffy|dante|dddddd|devildog|dimples|dingle|ducati|dusty|dwayne|"
    "dylan|earthlink|edwards|ellen|enter|ferrari|flyboy|formula1|gambit|"
    "gawker|geheim|gerard|gideon|ginscoot|gladiator|gold|gonzalez|guitars|"
    "handyman|hannah|hardware|hazard|hector|helmet|highland|hillary|hotboy|"
    "hound|hun999|hurricane|iawgk2|iforgot|iloveu|incubus|indians|ingrid|"
    "jamie1|jared|jimmy|john|johnboy|katie|kendall|kitty1|klondike|kokomo|"
    "krypton|kyle|lakers|lansing|lemon|lionel|loaded|looker|lorena|lori|"
    "lover1|luck|magnolia|mario|marjorie|marma|maximus|meatball|memory|"
    "mephisto|mercury1|midnite|miller|miller1|mine|mingus|missy1|mizuno|"
    "modem|montag|montecar|moomoo|mulder|nascar24|neutron|newyear|nina|"
    "ninja1|nirvana|nitram|nutmeg|ohyeah|oliver1|oooo|ooooooo|orange1|"
    "orchard|oscar1|oyster|paloma|panasoni|pascal|passpass|passwort|pauline|"
    "peterbil|phoenix1|pompey|prowler|public|pulsar|python|qiong|qqqqqq|"
    "quick|qwertyu|radio|ragnarok|redbird|reptile|reserve|ride|riley|rockie|"
    "rockon|saleen|samsung|sanity|scania|scanner|scout|scuba|seven7|seviyi|"
    "shang|sheena|sheldon|sherlock|shirley|shutup|sidekick|silver1|sims|"
    "slick|snake1|soldier|sonja|spartans|spawn|spirit|spock|stingray|stolen|"
    "stud|stumpy|superstar|surf|susanne|swim|syzygy|tabitha|tech|telephon|"
    "thunder1|thx1138|tootsie|toronto|trevor|trident|trigger|trinitro|"
    "tristan|truck|truck1|tsunami|tupac|tyler|unbelievable|ventura|vette|"
    "vivid|volvo|walker|walleye|walton|welcome|william1|winner1|wireless|"
    "wolves|wrinkle1|wxcvbn|yankee|ying|yoyoyo|yuan|zhuai|zipper|zombie|&amp|"
    "Password1|P@ssw0rd!|letmein|iloveyou|sunshine"
)

# (offset, description) pairs of RANDOMUSER-API.md A.2; +12:00 is never produced.
TIMEZONES: Final = (
    ("-12:00", "Eniwetok, Kwajalein"),
    ("-11:00", "Midway Island, Samoa"),
    ("-10:00", "Hawaii"),
    ("-9:00", "Alaska"),
    ("-8:00", "Pacific Time (US & Canada)"),
    ("-7:00", "Mountain Time (US & Canada)"),
    ("-6:00", "Central Time (US & Canada), Mexico City"),
    ("-5:00", "Eastern Time (US & Canada), Bogota, Lima"),
    ("-4:00", "Atlantic Time (Canada), Caracas, La Paz"),
    ("-3:30", "Newfoundland"),
    ("-3:00", "Brazil, Buenos Aires, Georgetown"),
    ("-2:00", "Mid-Atlantic"),
    ("-1:00", "Azores, Cape Verde Islands"),
    ("0:00", "Western Europe Time, London, Lisbon, Casablanca"),
    ("+1:00", "Brussels, Copenhagen, Madrid, Paris"),
    ("+2:00", "Kaliningrad, South Africa"),
    ("+3:00", "Baghdad, Riyadh, Moscow, St. Petersburg"),
    ("+3:30", "Tehran"),
    ("+4:00", "Abu Dhabi, Muscat, Baku, Tbilisi"),
    ("+4:30", "Kabul"),
    ("+5:00", "Ekaterinburg, Islamabad, Karachi, Tashkent"),
    ("+5:30", "Bombay, Calcutta, Madras, New Delhi"),
    ("+5:45", "Kathmandu"),
    ("+6:00", "Almaty, Dhaka, Colombo"),
    ("+7:00", "Bangkok, Hanoi, Jakarta"),
    ("+8:00", "Beijing, Perth, Singapore, Hong Kong"),
    ("+9:00", "Tokyo, Seoul, Osaka, Sapporo, Yakutsk"),
    ("+9:30", "Adelaide, Darwin"),
    ("+10:00", "Eastern Australia, Guam, Vladivostok"),
    ("+11:00", "Magadan, Solomon Islands, New Caledonia"),
)

ADJECTIVES: Final = _split(
    "angry|beautiful|big|black|blue|brown|crazy|golden|green|happy|heavy|lazy|"
    "orange|organic|purple|red|sad|silver|small|ticklish|tiny|white|yellow"
)
ANIMALS: Final = _split(
    "bear|bird|butterfly|cat|dog|duck|elephant|fish|frog|goose|gorilla|koala|"
    "ladybug|leopard|lion|meercat|mouse|ostrich|panda|peacock|rabbit|snake|swan|"
    "tiger|wolf|zebra"
)
